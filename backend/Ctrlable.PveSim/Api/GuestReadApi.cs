using System.Text.Json.Nodes;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.PveSim.Api;

/// <summary>Guest lists, status/current, RRD data and the two ways to read a guest's addresses.</summary>
internal static class GuestReadApi
{
    public static void Map(PveRouter router)
    {
        foreach (var kind in new[] { "lxc", "qemu" })
        {
            router
                .Map("GET", $"/nodes/{{node}}/{kind}", List)
                .Map("GET", $"/nodes/{{node}}/{kind}/{{vmid}}", Index)
                .Map("GET", $"/nodes/{{node}}/{kind}/{{vmid}}/status", StatusIndex)
                .Map("GET", $"/nodes/{{node}}/{kind}/{{vmid}}/status/current", Current)
                .Map("GET", $"/nodes/{{node}}/{kind}/{{vmid}}/rrddata", RrdData);
        }

        router
            .Map("GET", "/nodes/{node}/lxc/{vmid}/interfaces", LxcInterfaces)
            .Map("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", AgentInterfaces);
    }

    /// <summary>Only guests with VM.Audit on /vms/{vmid}.</summary>
    private static JsonNode List(PveRequest r)
    {
        var kind = r.Endpoint.Path.EndsWith("/lxc", StringComparison.Ordinal) ? GuestKind.Lxc : GuestKind.Qemu;
        var full = kind == GuestKind.Qemu && r.Flag("full") == true;
        lock (r.Sim.State.Sync)
        {
            return ApiHelpers.Array(r.Sim.State.Guests.Values
                .Where(g => g.Kind == kind && g.Node == r.Node)
                .Where(g => r.Sim.State.Access.Check(r.AuthId, $"/vms/{g.Vmid}", ["VM.Audit"], noError: true))
                .Select(g => (JsonNode)GuestViews.Status(r, g, current: false, full)));
        }
    }

    private static JsonNode Index(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            ApiHelpers.Load(r);
        }

        var entries = ApiHelpers.KindOf(r) == GuestKind.Lxc
            ? new[] { "config", "pending", "status", "vncproxy", "termproxy", "vncwebsocket", "spiceproxy", "migrate", "clone", "snapshot", "rrd", "rrddata", "firewall", "feature", "template", "interfaces", "mtunnel", "mtunnelwebsocket", "remote_migrate" }
            : ["config", "pending", "status", "unlink", "vncproxy", "termproxy", "migrate", "resize", "move", "rrd", "rrddata", "monitor", "agent", "snapshot", "spiceproxy", "sendkey", "firewall", "mtunnel", "remote_migrate"];
        return ApiHelpers.Array(entries.Select(e => (JsonNode)new JsonObject { ["subdir"] = e }));
    }

    private static JsonNode StatusIndex(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            ApiHelpers.Load(r);
        }

        var entries = ApiHelpers.KindOf(r) == GuestKind.Lxc
            ? new[] { "current", "start", "stop", "shutdown", "reboot", "suspend", "resume" }
            : ["current", "start", "stop", "reset", "shutdown", "reboot", "suspend", "resume"];
        return ApiHelpers.Array(entries.Select(e => (JsonNode)new JsonObject { ["subdir"] = e }));
    }

    private static JsonNode Current(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            return GuestViews.Status(r, ApiHelpers.Load(r), current: true);
        }
    }

    private static JsonNode RrdData(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var g = ApiHelpers.Load(r);
            var running = g.Running;
            var maxdisk = g.BootDiskBytes;
            return Rrd.Series(r, $"vm/{g.Vmid}", g.CreatedAt, (t, bucket, series) => new JsonObject
            {
                ["maxcpu"] = g.Cores,
                ["cpu"] = running ? Metrics.CpuFraction(series, bucket, 0.02) : 0,
                ["maxmem"] = g.MemoryBytes,
                ["mem"] = running ? Metrics.Fraction(g.MemoryBytes, series + "/mem", bucket, 0.15, 0.45) : 0,
                ["maxdisk"] = maxdisk,
                ["disk"] = g.Kind == GuestKind.Lxc && running ? Metrics.Fraction(maxdisk, series + "/disk", 0, 0.2, 0.3) : 0,
                ["netin"] = running ? Math.Round(Metrics.Unit(series + "/in", bucket) * 5000, 2) : 0,
                ["netout"] = running ? Math.Round(Metrics.Unit(series + "/out", bucket) * 2000, 2) : 0,
                ["diskread"] = running ? Math.Round(Metrics.Unit(series + "/dr", bucket) * 30000, 2) : 0,
                ["diskwrite"] = running ? Math.Round(Metrics.Unit(series + "/dw", bucket) * 10000, 2) : 0,
            }, version9Extras: o =>
            {
                o["memhost"] = o["mem"]!.DeepClone();
                foreach (var p in new[] { "pressurecpusome", "pressurecpufull", "pressureiosome", "pressureiofull", "pressurememorysome", "pressurememoryfull" })
                {
                    o[p] = 0;
                }
            });
        }
    }

    /// <summary>
    /// `ip --json a` inside the CT: null when stopped; lo plus one entry per netN. PVE 8.2 has only
    /// name/hwaddr/inet/inet6; "hardware-address" and "ip-addresses" came with pve-container 5.2.6 (8.4).
    /// </summary>
    private static JsonNode? LxcInterfaces(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var g = ApiHelpers.Load(r);
            if (!g.Running)
            {
                return null;
            }

            var detailed = r.Sim.Options.Version == PveVersion.V9_1;
            var result = new JsonArray { Interface("lo", "00:00:00:00:00:00", "127.0.0.1", 8, "::1", 128, detailed) };
            foreach (var (key, value) in g.Nets)
            {
                var net = ApiHelpers.ParseNet(r.Sim.Schema, GuestKind.Lxc, value);
                var mac = net.GetValueOrDefault("hwaddr", "00:00:00:00:00:00").ToLowerInvariant();
                var primary = key == g.Nets.First().Key;
                var v4 = primary && g.NetworkUp && g.Address is not null ? g.Address.ToString() : null;
                result.Add(Interface(net.GetValueOrDefault("name", key), mac, v4, g.AddressPrefix ?? r.Sim.IpAllocator.PrefixLength, LinkLocal(mac), 64, detailed));
            }

            return result;
        }
    }

    /// <summary>The QEMU guest agent's network-get-interfaces reply, wrapped in {result: ...}.</summary>
    private static JsonNode AgentInterfaces(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var g = ApiHelpers.Load(r);
            if (!GuestViews.AgentEnabled(g))
            {
                throw PveException.Die("No QEMU guest agent configured");
            }

            if (!g.Running)
            {
                throw PveException.Die($"VM {g.Vmid} is not running");
            }

            if (!g.AgentUp)
            {
                throw PveException.Die("QEMU guest agent is not running");
            }

            var interfaces = new JsonArray { AgentInterface("lo", "00:00:00:00:00:00", "127.0.0.1", 8, "::1", 128) };
            var index = 18;
            // Home Assistant OS names its NICs by PCI path and runs Docker: hassio, docker0 and veth* sit beside the LAN NIC.
            var haos = HomeAssistantMarker.IsMarked(g);
            foreach (var (key, value) in g.Nets)
            {
                var net = ApiHelpers.ParseNet(r.Sim.Schema, GuestKind.Qemu, value);
                var mac = net.GetValueOrDefault("macaddr", "00:00:00:00:00:00").ToLowerInvariant();
                var v4 = key == g.Nets.First().Key && g.NetworkUp && g.Address is not null ? g.Address.ToString() : null;
                interfaces.Add(AgentInterface(haos ? $"enp0s{index++}" : $"ens{index++}", mac, v4, g.AddressPrefix ?? r.Sim.IpAllocator.PrefixLength, LinkLocal(mac), 64));
            }

            if (haos && g.NetworkUp)
            {
                interfaces.Add(AgentInterface("hassio", "02:42:5e:1c:3a:01", "172.30.32.1", 23, "fe80::42:5eff:fe1c:3a01", 64));
                interfaces.Add(AgentInterface("docker0", "02:42:7d:60:11:02", "172.30.232.1", 23, "fe80::42:7dff:fe60:1102", 64));
                interfaces.Add(AgentInterface("veth5c1a2f3", "6e:1f:22:9a:4b:03", null, 0, "fe80::6c1f:22ff:fe9a:4b03", 64));
                interfaces.Add(AgentInterface("veth91be0d7", "b2:7c:51:08:e4:04", null, 0, "fe80::b07c:51ff:fe08:e404", 64));
            }

            return new JsonObject { ["result"] = interfaces };
        }
    }

    private static JsonObject Interface(string name, string mac, string? v4, int v4Prefix, string v6, int v6Prefix, bool detailed)
    {
        var o = new JsonObject { ["name"] = name, ["hwaddr"] = mac };
        if (v4 is not null)
        {
            o["inet"] = $"{v4}/{v4Prefix}";
        }

        o["inet6"] = $"{v6}/{v6Prefix}";
        if (detailed)
        {
            o["hardware-address"] = mac;
            var addresses = new JsonArray();
            if (v4 is not null)
            {
                addresses.Add(new JsonObject { ["ip-address-type"] = "inet", ["ip-address"] = v4, ["prefix"] = v4Prefix });
            }

            addresses.Add(new JsonObject { ["ip-address-type"] = "inet6", ["ip-address"] = v6, ["prefix"] = v6Prefix });
            o["ip-addresses"] = addresses;
        }

        return o;
    }

    private static JsonObject AgentInterface(string name, string mac, string? v4, int v4Prefix, string v6, int v6Prefix)
    {
        var addresses = new JsonArray();
        if (v4 is not null)
        {
            addresses.Add(new JsonObject { ["ip-address-type"] = "ipv4", ["ip-address"] = v4, ["prefix"] = v4Prefix });
        }

        addresses.Add(new JsonObject { ["ip-address-type"] = "ipv6", ["ip-address"] = v6, ["prefix"] = v6Prefix });
        return new JsonObject
        {
            ["name"] = name,
            ["hardware-address"] = mac,
            ["ip-addresses"] = addresses,
            ["statistics"] = new JsonObject
            {
                ["rx-bytes"] = 1_204_331,
                ["rx-dropped"] = 0,
                ["rx-errs"] = 0,
                ["rx-packets"] = 9_012,
                ["tx-bytes"] = 402_118,
                ["tx-dropped"] = 0,
                ["tx-errs"] = 0,
                ["tx-packets"] = 3_377,
            },
        };
    }

    /// <summary>EUI-64 link-local address of a MAC, as the kernel assigns it.</summary>
    private static string LinkLocal(string mac)
    {
        var b = mac.Split(':').Select(h => Convert.ToByte(h, 16)).ToArray();
        if (b.Length != 6 || b.All(x => x == 0))
        {
            return "fe80::1";
        }

        b[0] ^= 0x02;
        var groups = new[] { (b[0] << 8) | b[1], (b[2] << 8) | 0xff, 0xfe00 | b[3], (b[4] << 8) | b[5] };
        return "fe80::" + string.Join(':', groups.Select(g => g.ToString("x", System.Globalization.CultureInfo.InvariantCulture)));
    }
}
