using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Ctrlable.PveSim.Schema;

/// <summary>
/// Proxmox's named string formats (PVE::JSONSchema register_format and the ones pve-access-control,
/// pve-container and qemu-server add). A verifier returns null when the value is fine, else the text the
/// Perl verifier dies with (including its trailing newline, which real error bodies keep).
/// </summary>
public static partial class Formats
{
    private static readonly Dictionary<string, Func<string, string?>> Verifiers = new(StringComparer.Ordinal)
    {
        ["string"] = _ => null,
        ["urlencoded"] = v => UrlEncoded().IsMatch(v) ? null : $"invalid urlencoded string: {v}\n",
        ["pve-configid"] = v => ConfigId().IsMatch(v) ? null : $"invalid configuration ID '{v}'\n",
        ["pve-storage-id"] = v => VerifyId(v, "storage"),
        ["pve-bridge-id"] = v => BridgeId().IsMatch(v) ? null : $"invalid bridge ID '{v}'\n",
        ["pve-vmid"] = v => Vmid().IsMatch(v) ? null : "value does not look like a valid VM ID\n",
        ["pve-node"] = v => NodeName().IsMatch(v) ? null : "value does not look like a valid node name\n",
        ["mac-addr"] = v => MacAddr().IsMatch(v) ? null : "value does not look like a valid unicast MAC address\n",
        ["ipv4"] = v => IsIPv4(v) ? null : "value does not look like a valid IPv4 address\n",
        ["ipv6"] = v => IsIPv6(v) ? null : "value does not look like a valid IPv6 address\n",
        ["ip"] = v => IsIPv4(v) || IsIPv6(v) ? null : "value does not look like a valid IP address\n",
        ["ipv4mask"] = v => IsIPv4Mask(v) ? null : "value does not look like a valid IP netmask\n",
        ["CIDRv4"] = v => IsCidr(v, false) ? null : "value does not look like a valid IPv4 CIDR network\n",
        ["CIDRv6"] = v => IsCidr(v, true) ? null : "value does not look like a valid IPv6 CIDR network\n",
        ["CIDR"] = v => IsCidr(v, false) || IsCidr(v, true) ? null : "value does not look like a valid CIDR network\n",
        ["IPorCIDR"] = v => IsIPv4(v) || IsIPv6(v) || IsCidr(v, false) || IsCidr(v, true)
            ? null : "value does not look like a valid IP address or CIDR network\n",
        ["pve-ipv4-config"] = v => v is "dhcp" or "manual" || IsCidr(v, false)
            ? null : "value does not look like a valid ipv4 network configuration\n",
        ["pve-ipv6-config"] = v => v is "auto" or "dhcp" or "manual" || IsCidr(v, true)
            ? null : "value does not look like a valid ipv6 network configuration\n",
        ["dns-name"] = v => DnsName().IsMatch(v) ? null : "value does not look like a valid DNS name\n",
        ["address"] = v => IsIPv4(v) || IsIPv6(v) || DnsName().IsMatch(v) ? null : $"value does not look like a valid address: {v}\n",
        ["disk-size"] = v => ParseSize(v) is not null ? null : $"value does not look like a valid disk size: {v}\n",
        ["pve-tag"] = v => Tag().IsMatch(v) ? null : "invalid characters in tag\n",
        ["pve-poolid"] = VerifyPoolId,
        ["pve-startup-order"] = v => StartupOrder().IsMatch(v) ? null : "unable to parse startup options\n",
        ["pve-userid"] = v => UserId().IsMatch(v) ? null : $"value '{v}' does not look like a valid user name\n",
        ["pve-tokenid"] = v => TokenId().IsMatch(v) ? null : $"value '{v}' does not look like a valid token ID\n",
        ["pve-realm"] = v => Realm().IsMatch(v) ? null : $"value '{v}' does not look like a valid realm\n",
        ["pve-roleid"] = v => RoleId().IsMatch(v) ? null : $"role name '{v}' contains invalid characters\n",
        ["pve-groupid"] = v => RoleId().IsMatch(v) ? null : $"group name '{v}' contains invalid characters\n",
        ["pve-iface"] = v => v.Length is >= 2 and <= 20 && Iface().IsMatch(v) ? null : $"invalid network interface name '{v}'\n",
        ["pve-lxc-mp-string"] = v => LxcMpBad().IsMatch(v) ? $"invalid path: {v}\n" : null,
        ["pve-volume-id"] = v => VolumeId().IsMatch(v) ? null : $"unable to parse volume ID '{v}'\n",
        ["pve-volume-id-or-qm-path"] = v => VolumeId().IsMatch(v) || v.StartsWith('/') || v is "none" or "cdrom"
            ? null : $"unable to parse volume ID '{v}'\n",
        ["pve-volume-id-or-absolute-path"] = v => VolumeId().IsMatch(v) || v.StartsWith('/')
            ? null : $"unable to parse volume ID '{v}'\n",
        ["pve-storage-content"] = v => StorageContent().IsMatch(v) ? null : $"invalid content type '{v}'\n",
        ["pve-task-status-type"] = v => v is "ok" or "error" or "warning" or "unknown" ? null : $"invalid status type '{v}'\n",
        ["email"] = v => Email().IsMatch(v) ? null : "value does not look like a valid email address\n",
        ["pve-priv"] = _ => null, // verified against the version's privilege list by the access endpoints
    };

    // Formats whose verifier lives deep inside qemu-server/pve-container (drive specs, cpu models ...).
    // The emulator accepts them unchecked; they are listed so that the gap is explicit, not accidental.
    private static readonly HashSet<string> Unchecked = new(StringComparer.Ordinal)
    {
        "pve-qm-ide", "pve-qm-boot", "pve-qm-bootdisk", "pve-qm-cicustom", "pve-vm-cpu-conf", "pve-qm-hostpci",
        "pve-hotplug-features", "pve-qm-ipconfig", "pve-qm-smbios1", "pve-qm-watchdog", "pve-qm-rng",
        "pve-qemu-sev-fmt", "pve-qemu-tdx-fmt", "pve-cpuset", "pve-ct-timezone",
        "pve-storage-path", "pve-storage-server", "pve-storage-portal-dns", "pve-storage-vgname", "lxc-ip-with-ll-iface",
        "pve-storage-options", "pve-storage-format", "pve-dir-override", "pve-calendar-event", "prune-backups",
        "backup-fleecing", "backup-performance", "email-opt", "pve-sdn-vnet-id", "pve-sdn-zone-id",
        "pve-fw-addr-spec", "pve-fw-dport-spec", "pve-fw-sport-spec", "pve-fw-protocol-spec",
        "pve-fw-icmp-type-spec", "IPorCIDRorAlias", "pve-replication-job-id", "pve-ha-resource-or-vm-id",
        "storage-pair", "bridge-pair", "proxmox-remote", "graphite-path", "pem-string", "pem-certificate-chain",
        "pve-command-batch", "ldap-simple-attr", "realm-sync-options", "pve-tfa-config", "mac-prefix",
        "pve-fw-conntrack-helper", "pve-day-of-week", "email-or-username", "pve-ha-group-node",
        "pve-sdn-bgp-rt", "pve-sdn-ipam-id", "pve-sdn-subnet-id", "pve-sdn-controller-id", "pve-sdn-dns-id",
        "pve-sdn-fabric-id", "pve-sdn-isis-net", "pve-vlan-id-or-range", "pve-ha-node", "pve-ha-resource-id",
    };

    public static bool IsKnown(string format)
    {
        var (name, _) = SplitSuffix(format);
        return Verifiers.ContainsKey(name) || Unchecked.Contains(name);
    }

    public static bool IsChecked(string format) => Verifiers.ContainsKey(SplitSuffix(format).Name);

    /// <summary>check_format for a named format, including the -list and -opt variants.</summary>
    public static string? Verify(string format, string value)
    {
        if (format == "regex")
        {
            return null;
        }

        var (name, kind) = SplitSuffix(format);
        if (!Verifiers.TryGetValue(name, out var verify))
        {
            return null; // unchecked (see Unchecked) or unknown: accepted
        }

        return kind switch
        {
            "list" => SplitList(value).Select(verify).FirstOrDefault(e => e is not null),
            "opt" => value.Length == 0 ? null : verify(value),
            _ => verify(value),
        };
    }

    /// <summary>PVE::Tools::split_list: commas, semicolons and whitespace all separate.</summary>
    public static IEnumerable<string> SplitList(string text) =>
        text.Contains('\0')
            ? text.Split('\0')
            : text.Split([',', ';', ' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>PVE::JSONSchema::parse_size: "8G", "512M", "1.5T", plain bytes.</summary>
    public static long? ParseSize(string value)
    {
        var m = Size().Match(value);
        if (!m.Success)
        {
            return null;
        }

        var number = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var factor = m.Groups[3].Value switch
        {
            "K" or "KiB" => 1024d,
            "M" or "MiB" => 1024d * 1024,
            "G" or "GiB" => 1024d * 1024 * 1024,
            "T" or "TiB" => 1024d * 1024 * 1024 * 1024,
            _ => 1d,
        };
        return (long)(number * factor);
    }

    /// <summary>PVE::JSONSchema::format_size: the largest unit that divides evenly.</summary>
    public static string FormatSize(long size)
    {
        string[] units = ["K", "M", "G", "T"];
        var text = size.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var value = size;
        foreach (var unit in units)
        {
            if (value % 1024 != 0)
            {
                return text;
            }

            value /= 1024;
            text = value.ToString(System.Globalization.CultureInfo.InvariantCulture) + unit;
        }

        return text;
    }

    private static (string Name, string Kind) SplitSuffix(string format)
    {
        if (format.EndsWith("-list", StringComparison.Ordinal))
        {
            return (format[..^5], "list");
        }

        return format.EndsWith("-opt", StringComparison.Ordinal) ? (format[..^4], "opt") : (format, "none");
    }

    private static string? VerifyId(string id, string type)
    {
        if (id.Length < 2)
        {
            return $"{type} ID '{id}' cannot be shorter than 2 characters\n";
        }

        return PlainId().IsMatch(id) ? null : $"{type} ID '{id}' contains illegal characters\n";
    }

    private static string? VerifyPoolId(string pool)
    {
        if (pool.Split('/').Length > 3)
        {
            return $"pool name '{pool}' nested too deeply (max levels = 3)\n";
        }

        return PoolId().IsMatch(pool) ? null : $"pool name '{pool}' contains invalid characters\n";
    }

    private static bool IsIPv4(string v) => Ipv4().IsMatch(v);

    private static bool IsIPv6(string v) =>
        v.Contains(':') && IPAddress.TryParse(v, out var a) && a.AddressFamily == AddressFamily.InterNetworkV6 && !v.Contains('%');

    private static bool IsIPv4Mask(string v)
    {
        if (!IsIPv4(v))
        {
            return false;
        }

        var bits = BitConverter.ToUInt32(IPAddress.Parse(v).GetAddressBytes().Reverse().ToArray());
        var inverted = ~bits;
        return (inverted & (inverted + 1)) == 0;
    }

    private static bool IsCidr(string v, bool ipv6)
    {
        var slash = v.IndexOf('/');
        if (slash < 0 || !int.TryParse(v[(slash + 1)..], out var prefix) || v[(slash + 1)..].Any(c => !char.IsAsciiDigit(c)))
        {
            return false;
        }

        var address = v[..slash];
        return ipv6
            ? IsIPv6(address) && prefix > 7 && prefix <= 128
            : IsIPv4(address) && prefix > 7 && prefix <= 32;
    }

    [GeneratedRegex(@"^[-%a-zA-Z0-9_.!~*'()]*$")]
    private static partial Regex UrlEncoded();

    [GeneratedRegex(@"^[a-z][a-z0-9_-]+$", RegexOptions.IgnoreCase)]
    private static partial Regex ConfigId();

    [GeneratedRegex(@"^[a-z][a-z0-9\-_.]*[a-z0-9]$", RegexOptions.IgnoreCase)]
    private static partial Regex PlainId();

    [GeneratedRegex(@"^[-_.\w\d]+$")]
    private static partial Regex BridgeId();

    [GeneratedRegex(@"^[1-9][0-9]{2,8}$")]
    private static partial Regex Vmid();

    [GeneratedRegex(@"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$")]
    private static partial Regex NodeName();

    [GeneratedRegex(@"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", RegexOptions.IgnoreCase)]
    private static partial Regex MacAddr();

    [GeneratedRegex(@"^(?:(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])\.){3}(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])$")]
    private static partial Regex Ipv4();

    [GeneratedRegex(@"^(([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$")]
    private static partial Regex DnsName();

    [GeneratedRegex(@"^[a-z0-9_][a-z0-9_\-+.]*$", RegexOptions.IgnoreCase)]
    private static partial Regex Tag();

    [GeneratedRegex(@"^[A-Za-z0-9.\-_]+(?:/[A-Za-z0-9.\-_]+){0,2}$")]
    private static partial Regex PoolId();

    [GeneratedRegex(@"^((order=)?\d+|up=\d+|down=\d+)(,((order=)?\d+|up=\d+|down=\d+))*$")]
    private static partial Regex StartupOrder();

    [GeneratedRegex(@"^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$")]
    private static partial Regex UserId();

    [GeneratedRegex(@"^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$")]
    private static partial Regex TokenId();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9.\-_]+$")]
    private static partial Regex Realm();

    [GeneratedRegex(@"^[A-Za-z0-9.\-_]+$")]
    private static partial Regex RoleId();

    [GeneratedRegex(@"^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$")]
    private static partial Regex Iface();

    [GeneratedRegex(@"(^|/)\.\.?(/|$)")]
    private static partial Regex LxcMpBad();

    [GeneratedRegex(@"^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$", RegexOptions.IgnoreCase)]
    private static partial Regex VolumeId();

    [GeneratedRegex(@"^(images|rootdir|vztmpl|iso|backup|snippets|import|none)$")]
    private static partial Regex StorageContent();

    [GeneratedRegex(@"^[\w+\-~.]+@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*$")]
    private static partial Regex Email();

    [GeneratedRegex(@"^(\d+(\.\d+)?)([KMGT](?:iB)?)?$")]
    private static partial Regex Size();
}
