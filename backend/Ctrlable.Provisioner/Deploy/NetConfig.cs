namespace Ctrlable.Provisioner.Deploy;

/// <summary>An LXC NIC's IPv4 setting: <c>ip=dhcp</c> (<see cref="Dhcp"/>), or <c>ip=address/prefix,gw=gateway</c>.</summary>
public sealed record Ipv4Setting(string Ip, string? Gateway)
{
    public static Ipv4Setting Dhcp { get; } = new("dhcp", null);
}

/// <summary>
/// Rewrites a guest's <c>net0</c> property string, keeping every key it does not own. LXC writes the MAC as
/// <c>hwaddr=</c>; QEMU as the model key (<c>virtio=BC:24:11:..</c>). The site's addressing owns an LXC's IPv4 keys
/// (<c>ip</c>, <c>gw</c>); IPv6 (<c>ip6</c>, <c>gw6</c>) stays as the template has it.
/// </summary>
public static class NetConfig
{
    private static readonly HashSet<string> QemuModels = ["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "i82551", "i82557b", "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "e1000-82540em", "e1000-82544gc", "e1000-82545em"];

    public static string Rewrite(string net0, bool lxc, string mac, string? bridge, int? vlan, Ipv4Setting? ipv4 = null)
    {
        var parts = net0.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .Select(kv => (Key: kv[0], Value: kv.Length > 1 ? kv[1] : ""))
            .ToList();

        if (lxc)
        {
            Set(parts, "hwaddr", mac);
            if (ipv4 is not null)
            {
                Set(parts, "ip", ipv4.Ip);
                if (ipv4.Gateway is { } gateway)
                {
                    Set(parts, "gw", gateway);
                }
                else
                {
                    parts.RemoveAll(p => p.Key == "gw");
                }
            }
        }
        else
        {
            var model = parts.FindIndex(p => QemuModels.Contains(p.Key));
            if (model >= 0)
            {
                parts[model] = (parts[model].Key, mac);
            }
            else
            {
                parts.Insert(0, ("virtio", mac));
            }

            parts.RemoveAll(p => p.Key == "macaddr");
        }

        if (bridge is not null)
        {
            Set(parts, "bridge", bridge);
        }

        if (vlan is { } tag)
        {
            Set(parts, "tag", tag.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            parts.RemoveAll(p => p.Key == "tag");
        }

        return string.Join(',', parts.Select(p => $"{p.Key}={p.Value}"));
    }

    /// <summary>The MAC in a net property string, of either kind.</summary>
    public static string? MacOf(string net)
    {
        foreach (var part in net.Split(','))
        {
            var kv = part.Split('=', 2);
            if (kv.Length == 2 && (kv[0] is "hwaddr" or "macaddr" || QemuModels.Contains(kv[0])) && kv[1].Length == 17)
            {
                return kv[1].ToUpperInvariant();
            }
        }

        return null;
    }

    private static void Set(List<(string Key, string Value)> parts, string key, string value)
    {
        var i = parts.FindIndex(p => p.Key == key);
        if (i >= 0)
        {
            parts[i] = (key, value);
        }
        else
        {
            parts.Add((key, value));
        }
    }
}
