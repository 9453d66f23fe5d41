using System.Text.Json.Nodes;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.PveSim.Api;

/// <summary>vmstatus output of pve-container / qemu-server for the list, status/current and cluster views.</summary>
internal static class GuestViews
{
    public static JsonObject Status(PveRequest r, SimGuest g, bool current, bool full = false)
    {
        var now = r.Sim.Clock.Now;
        var bucket = now.ToUnixTimeSeconds() / 10;
        var series = $"vm/{g.Vmid}";
        var uptime = g.Running && g.StartedAt is { } started ? (long)(now - started).TotalSeconds : 0;
        var maxdisk = g.BootDiskBytes;
        var o = new JsonObject
        {
            ["vmid"] = g.Vmid,
            ["status"] = g.Running ? "running" : "stopped",
            ["name"] = g.Name,
            ["cpus"] = g.Cores,
            ["maxmem"] = g.MemoryBytes,
            ["mem"] = g.Running ? Metrics.Fraction(g.MemoryBytes, series + "/mem", bucket, 0.15, 0.45) : 0,
            ["maxdisk"] = maxdisk,
            ["disk"] = g.Kind == GuestKind.Lxc && g.Running ? Metrics.Fraction(maxdisk, series + "/disk", 0, 0.2, 0.3) : 0,
            ["uptime"] = uptime,
            ["cpu"] = g.Running ? Metrics.CpuFraction(series, bucket, 0.02) : 0,
            ["netin"] = Metrics.Counter(series + "/netin", uptime, 4000),
            ["netout"] = Metrics.Counter(series + "/netout", uptime, 1500),
            ["diskread"] = Metrics.Counter(series + "/dr", uptime, 20000),
            ["diskwrite"] = Metrics.Counter(series + "/dw", uptime, 8000),
        };

        if (g.Kind == GuestKind.Lxc)
        {
            o["type"] = "lxc";
            o["maxswap"] = g.SwapBytes;
            o["swap"] = 0;
        }

        if (g.Running)
        {
            o["pid"] = g.Pid;
        }

        if (g.IsTemplate)
        {
            o["template"] = 1;
        }

        if (g.Lock is { } lockName)
        {
            o["lock"] = lockName;
        }

        if (g.Config.TryGetValue("tags", out var tags))
        {
            o["tags"] = tags;
        }

        if (r.Sim.Options.Version == PveVersion.V9_1)
        {
            foreach (var p in new[] { "pressurecpusome", "pressureiosome", "pressureiofull", "pressurememorysome", "pressurememoryfull" })
            {
                o[p] = 0;
            }

            if (g.Kind == GuestKind.Qemu)
            {
                o["pressurecpufull"] = 0;
                o["memhost"] = o["mem"]!.GetValue<long>();
            }
        }

        if (g.Kind == GuestKind.Qemu && (current || full))
        {
            o["qmpstatus"] = g.Running ? "running" : "stopped";
            if (g.Running)
            {
                o["running-machine"] = "pc-i440fx-9.2+pve1";
                o["running-qemu"] = r.Sim.Options.Version == PveVersion.V9_1 ? "10.1.2" : "9.0.0";
            }
        }

        if (current)
        {
            o["ha"] = new JsonObject { ["managed"] = 0 };
            if (g.Kind == GuestKind.Qemu && AgentEnabled(g))
            {
                o["agent"] = 1;
            }
        }

        return o;
    }

    public static bool AgentEnabled(SimGuest g)
    {
        if (!g.Config.TryGetValue("agent", out var agent))
        {
            return false;
        }

        var first = agent.Split(',')[0];
        var value = first.StartsWith("enabled=", StringComparison.Ordinal) ? first[8..] : first;
        return Schema.PropertyString.ParseBoolean(value) == "1";
    }

    /// <summary>/cluster/resources entry; a fresh guest shows "unknown" and no stats until pvestatd's next cycle.</summary>
    public static JsonObject Resource(PveRequest r, SimGuest g)
    {
        var entry = new JsonObject
        {
            ["id"] = $"{g.TypeName}/{g.Vmid}",
            ["vmid"] = g.Vmid,
            ["node"] = g.Node,
            ["type"] = g.TypeName,
            ["status"] = "unknown",
        };

        if (r.Sim.Clock.Now - g.CreatedAt < r.Sim.Clock.Scaled(r.Sim.Timings.StatusUnknownAfterCreate))
        {
            return entry;
        }

        // A node that is offline sends no status: pmxcfs still has its guests' configs (name, template), no figures.
        if (r.Sim.State.Nodes.TryGetValue(g.Node, out var node) && !node.Online)
        {
            entry["name"] = g.Name;
            entry["template"] = g.IsTemplate ? 1 : 0;
            return entry;
        }

        var s = Status(r, g, current: false);
        entry["uptime"] = s["uptime"]!.DeepClone();
        entry["name"] = g.Name;
        entry["status"] = g.Running ? "running" : "stopped";
        entry["template"] = g.IsTemplate ? 1 : 0;
        entry["maxcpu"] = g.Cores;
        foreach (var k in new[] { "cpu", "maxmem", "mem", "maxdisk", "disk", "netin", "netout", "diskread", "diskwrite" })
        {
            entry[k] = s[k]!.DeepClone();
        }

        if (r.Sim.Options.Version == PveVersion.V9_1 && g.Kind == GuestKind.Qemu)
        {
            entry["memhost"] = s["mem"]!.DeepClone();
        }

        return entry;
    }
}
