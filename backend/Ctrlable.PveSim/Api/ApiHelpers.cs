using System.Text.Json.Nodes;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Schema;

namespace Ctrlable.PveSim.Api;

/// <summary>Checks and lookups shared by the guest endpoints (AbstractConfig's load_config, check_lock, lock_config).</summary>
internal static class ApiHelpers
{
    public static GuestKind KindOf(PveRequest r) =>
        r.Endpoint.Path.StartsWith("/nodes/{node}/lxc", StringComparison.Ordinal) ? GuestKind.Lxc : GuestKind.Qemu;

    /// <summary>load_config: the guest must exist, be of the endpoint's kind and live on the requested node.</summary>
    public static SimGuest Load(PveRequest r)
    {
        var kind = KindOf(r);
        var guest = r.Sim.State.Guest(r.Vmid);
        if (guest is null || guest.Kind != kind || guest.Node != r.Node)
        {
            throw PveException.NoConfig(r.Node, kind == GuestKind.Lxc ? "lxc" : "qemu", r.Vmid);
        }

        return guest;
    }

    /// <summary>check_lock: "CT is locked (disk)" / "VM is locked (clone)" — no VMID in the text.</summary>
    public static void CheckLock(SimGuest guest)
    {
        if (guest.Lock is { } lockName)
        {
            throw PveException.Die($"{guest.Word} is locked ({lockName})");
        }
    }

    /// <summary>lock_config's flock, which fault injection can make time out.</summary>
    public static void FlockConfig(PveRequest r, int vmid, GuestKind kind)
    {
        if (r.Sim.Faults.LockContention())
        {
            var file = kind == GuestKind.Lxc ? $"/run/lock/lxc/pve-config-{vmid}.lock" : $"/var/lock/qemu-server/lock-{vmid}.conf";
            throw PveException.Die($"can't lock file '{file}' - got timeout");
        }
    }

    /// <summary>The net[n] property-string format of this guest kind, from the schema's config PUT.</summary>
    public static JsonObject NetFormat(PveSchema schema, GuestKind kind)
    {
        var path = kind == GuestKind.Lxc ? "/nodes/{node}/lxc/{vmid}/config" : "/nodes/{node}/qemu/{vmid}/config";
        return schema.Find("PUT", path)!.FindProperty("net0")!["format"]!.AsObject();
    }

    /// <summary>Parses a net line, gives it a MAC if it has none, and prints it back in Proxmox's order.</summary>
    public static string NormalizeNet(PveSchema schema, GuestKind kind, string value, string macPrefix, bool newMac)
    {
        var format = NetFormat(schema, kind);
        var net = PropertyString.Parse(format, value, "net");
        var macKey = kind == GuestKind.Lxc ? "hwaddr" : "macaddr";
        if (newMac || !net.ContainsKey(macKey))
        {
            net[macKey] = MacAddress.Random(macPrefix);
        }

        if (kind == GuestKind.Qemu && !net.ContainsKey("model"))
        {
            net["model"] = "virtio";
        }

        return PropertyString.Print(net, format);
    }

    public static Dictionary<string, string> ParseNet(PveSchema schema, GuestKind kind, string value) =>
        PropertyString.Parse(NetFormat(schema, kind), value, "net");

    /// <summary>check_vnet_access: SDN.Use on the bridge (or on bridge/VLAN when tagged).</summary>
    public static void CheckBridgeAccess(PveRequest r, GuestKind kind, string netValue)
    {
        if (r.AuthId == "root@pam")
        {
            return;
        }

        var net = ParseNet(r.Sim.Schema, kind, netValue);
        if (!net.TryGetValue("bridge", out var bridge))
        {
            return;
        }

        var path = $"/sdn/zones/localnetwork/{bridge}";
        if (net.TryGetValue("tag", out var tag))
        {
            path += "/" + tag;
        }

        r.Sim.State.Access.Check(r.AuthId, path, ["SDN.Use"], any: true);
    }

    public static JsonArray Array(IEnumerable<JsonNode?> items)
    {
        var array = new JsonArray();
        foreach (var item in items)
        {
            array.Add(item);
        }

        return array;
    }

    public static SimNode RequireNode(PveRequest r, string node) =>
        r.Sim.State.Nodes.GetValueOrDefault(node) ?? throw PveException.Die($"no such cluster node '{node}'");
}
