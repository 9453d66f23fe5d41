using System.Globalization;
using System.Text.Json.Nodes;
using Ctrlable.PveSim.Cluster;

namespace Ctrlable.PveSim.Api;

/// <summary>/nodes, node status, version, storage and RRD data.</summary>
internal static class NodeApi
{
    public static void Map(PveRouter router) => router
        .Map("GET", "/nodes", List)
        .Map("GET", "/nodes/{node}", Index)
        .Map("GET", "/nodes/{node}/status", Status)
        .Map("GET", "/nodes/{node}/version", NodeVersion)
        .Map("GET", "/nodes/{node}/storage", Storage)
        .Map("GET", "/nodes/{node}/storage/{storage}/status", StorageStatus)
        .Map("GET", "/nodes/{node}/rrddata", RrdData);

    /// <summary>extract_node_stats: figures only with Sys.Audit on the node.</summary>
    public static JsonObject NodeEntry(PveRequest r, SimNode node)
    {
        var entry = new JsonObject
        {
            ["id"] = $"node/{node.Name}",
            ["node"] = node.Name,
            ["type"] = "node",
            ["status"] = node.Online ? "online" : "offline",
            ["level"] = "",
        };

        if (r.Sim.State.Access.Check(r.AuthId, $"/nodes/{node.Name}", ["Sys.Audit"], noError: true))
        {
            var bucket = r.Sim.Clock.UnixNow / 10;
            entry["uptime"] = node.Online ? (long)(r.Sim.Clock.Now - node.BootTime).TotalSeconds : 0;
            entry["cpu"] = node.Online ? Metrics.CpuFraction($"node/{node.Name}", bucket, 0.05 + (0.01 * RunningGuests(r, node))) : 0;
            entry["maxcpu"] = node.MaxCpu;
            entry["mem"] = MemUsed(r, node, bucket);
            entry["maxmem"] = node.MaxMem;
            entry["disk"] = node.RootFsTotal / 5;
            entry["maxdisk"] = node.RootFsTotal;
        }

        return entry;
    }

    private static JsonNode List(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            return ApiHelpers.Array(r.Sim.State.Nodes.Values.Select(n =>
            {
                var entry = NodeEntry(r, n);
                entry["ssl_fingerprint"] = n.Fingerprint;
                return (JsonNode)entry;
            }));
        }
    }

    private static JsonNode Index(PveRequest r) => ApiHelpers.Array(
        new[] { "apt", "capabilities", "ceph", "certificates", "config", "disks", "dns", "firewall", "hardware", "hosts", "journal", "lxc", "netstat", "network", "qemu", "query-url-metadata", "replication", "report", "rrd", "rrddata", "scan", "sdn", "services", "spiceshell", "startall", "status", "stopall", "storage", "subscription", "syslog", "tasks", "termproxy", "time", "version", "vncshell", "vzdump", "wakeonlan" }
            .Select(name => (JsonNode)new JsonObject { ["name"] = name }));

    private static JsonNode Status(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var node = r.Sim.State.Nodes[r.Node];
            var version = r.Sim.Options.Version;
            var bucket = r.Sim.Clock.UnixNow / 10;
            var series = $"node/{node.Name}";
            var used = MemUsed(r, node, bucket);
            var load = 0.1 + (0.15 * RunningGuests(r, node)) + Metrics.Unit(series + "/load", bucket);
            string Load(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
            return new JsonObject
            {
                ["uptime"] = (long)(r.Sim.Clock.Now - node.BootTime).TotalSeconds,
                ["idle"] = 0,
                ["loadavg"] = new JsonArray(Load(load), Load(load * 0.9), Load(load * 0.8)),
                ["kversion"] = $"Linux {version.KernelRelease()} #1 SMP PREEMPT_DYNAMIC PMX {version.KernelRelease()} (2025-01-01T00:00Z)",
                ["current-kernel"] = new JsonObject
                {
                    ["sysname"] = "Linux",
                    ["release"] = version.KernelRelease(),
                    ["version"] = $"#1 SMP PREEMPT_DYNAMIC PMX {version.KernelRelease()} (2025-01-01T00:00Z)",
                    ["machine"] = "x86_64",
                },
                ["boot-info"] = new JsonObject { ["mode"] = "efi", ["secureboot"] = 0 },
                ["cpuinfo"] = new JsonObject
                {
                    ["model"] = node.CpuModel,
                    ["sockets"] = 1,
                    ["cpus"] = node.MaxCpu,
                    ["cores"] = node.MaxCpu / 2,
                    ["mhz"] = "2400.000",
                    ["hvm"] = "1",
                    ["user_hz"] = 100,
                    ["flags"] = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc vmx",
                },
                ["cpu"] = Metrics.CpuFraction(series, bucket, 0.05),
                ["wait"] = 0.0012,
                ["memory"] = new JsonObject
                {
                    ["total"] = node.MaxMem,
                    ["used"] = used,
                    ["free"] = node.MaxMem - used,
                    ["available"] = node.MaxMem - used,
                },
                ["ksm"] = new JsonObject { ["shared"] = 0 },
                ["swap"] = new JsonObject { ["total"] = 8L << 30, ["used"] = 0, ["free"] = 8L << 30 },
                ["rootfs"] = new JsonObject
                {
                    ["total"] = node.RootFsTotal,
                    ["used"] = node.RootFsTotal / 5,
                    ["avail"] = node.RootFsTotal - (node.RootFsTotal / 5),
                    ["free"] = node.RootFsTotal - (node.RootFsTotal / 5),
                },
                ["pveversion"] = $"pve-manager/{version.ManagerVersion()}/{version.RepoId()}",
            };
        }
    }

    private static JsonNode NodeVersion(PveRequest r) => new JsonObject
    {
        ["version"] = r.Sim.Options.Version.ManagerVersion(),
        ["release"] = r.Sim.Options.Version.Release(),
        ["repoid"] = r.Sim.Options.Version.RepoId(),
    };

    private static JsonNode Storage(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var state = r.Sim.State;
            var wanted = r.Get("storage");
            if (wanted is not null && !state.Storages.ContainsKey(wanted))
            {
                throw PveException.ParamError("storage", "No such storage.");
            }

            var content = r.Get("content");
            var result = new JsonArray();
            foreach (var s in state.Storages.Values)
            {
                if (!s.AvailableOn(r.Node) || (wanted is not null && s.Id != wanted))
                {
                    continue;
                }

                if (content is not null && !Schema.Formats.SplitList(content).All(s.HasContent))
                {
                    continue;
                }

                if (r.Get("target") is { } target && target != r.Node && !s.AvailableOn(target))
                {
                    continue;
                }

                if (!state.Access.Check(r.AuthId, $"/storage/{s.Id}", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true, noError: true))
                {
                    continue;
                }

                result.Add(StorageEntry(r, s, r.Flag("format") == true));
            }

            return result;
        }
    }

    private static JsonObject StorageEntry(PveRequest r, SimStorage s, bool withFormats = false)
    {
        var used = r.Sim.State.UsedBytes(s, r.Node);
        var entry = new JsonObject
        {
            ["storage"] = s.Id,
            ["type"] = s.Type,
            ["content"] = s.Content,
            ["enabled"] = 1,
            ["active"] = 1,
            ["shared"] = s.Shared ? 1 : 0,
            ["total"] = s.TotalBytes,
            ["used"] = used,
            ["avail"] = s.TotalBytes - used,
            ["used_fraction"] = s.TotalBytes == 0 ? 0 : Math.Round((double)used / s.TotalBytes, 6),
        };

        if (withFormats)
        {
            var formats = s.IsFileBased ? new[] { "raw", "qcow2", "vmdk", "subvol" } : ["raw", "subvol"];
            entry["formats"] = new JsonObject
            {
                ["default"] = s.IsFileBased ? "qcow2" : "raw",
                ["supported"] = ApiHelpers.Array(formats.Select(f => (JsonNode)f)),
            };
        }

        return entry;
    }

    private static JsonNode StorageStatus(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var s = r.Sim.State.Storages.GetValueOrDefault(r.Get("storage")!);
            if (s is null || !s.AvailableOn(r.Node))
            {
                throw PveException.Die($"storage '{r.Get("storage")}' does not exist");
            }

            var entry = StorageEntry(r, s);
            entry.Remove("storage");
            return entry;
        }
    }

    private static JsonNode RrdData(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var node = r.Sim.State.Nodes[r.Node];
            var running = RunningGuests(r, node);
            return Rrd.Series(r, $"node/{node.Name}", node.BootTime, (t, bucket, series) => new JsonObject
            {
                ["loadavg"] = Math.Round(0.1 + (0.15 * running) + Metrics.Unit(series + "/load", bucket), 2),
                ["maxcpu"] = node.MaxCpu,
                ["cpu"] = Metrics.CpuFraction(series, bucket, 0.05),
                ["iowait"] = Math.Round(Metrics.Unit(series + "/io", bucket) * 0.01, 6),
                ["memtotal"] = node.MaxMem,
                ["memused"] = MemUsed(r, node, bucket),
                ["swaptotal"] = 8L << 30,
                ["swapused"] = 0,
                ["roottotal"] = node.RootFsTotal,
                ["rootused"] = node.RootFsTotal / 5,
                ["netin"] = Math.Round(2000 + (Metrics.Unit(series + "/in", bucket) * 20000), 2),
                ["netout"] = Math.Round(1000 + (Metrics.Unit(series + "/out", bucket) * 8000), 2),
            }, version9Extras: o =>
            {
                o["memavailable"] = node.MaxMem - o["memused"]!.GetValue<long>();
                o["arcsize"] = 0;
                foreach (var p in new[] { "pressurecpusome", "pressureiosome", "pressureiofull", "pressurememorysome", "pressurememoryfull" })
                {
                    o[p] = 0;
                }
            });
        }
    }

    private static int RunningGuests(PveRequest r, SimNode node) =>
        r.Sim.State.Guests.Values.Count(g => g.Node == node.Name && g.Running);

    private static long MemUsed(PveRequest r, SimNode node, long bucket) =>
        (2L << 30) + Metrics.Fraction(1L << 30, $"node/{node.Name}/mem", bucket, 0, 1)
        + r.Sim.State.Guests.Values.Where(g => g.Node == node.Name && g.Running).Sum(g => g.MemoryBytes / 3);
}
