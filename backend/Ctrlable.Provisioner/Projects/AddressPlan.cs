using System.Net;
using System.Net.Sockets;

namespace Ctrlable.Provisioner.Projects;

/// <summary>
/// A site's static addressing plan, parsed: the LAN, the block the orchestrator gives out, the gateway and the DNS
/// servers (IPv4). <see cref="Of"/> is null for DHCP, or for settings the validator would refuse.
/// </summary>
public sealed record AddressPlan(IPNetwork Network, IPNetwork Range, IPAddress Gateway, IReadOnlyList<IPAddress> DnsServers)
{
    public int PrefixLength => Network.PrefixLength;

    public static AddressPlan? Of(AddressingSettings? settings)
    {
        if (settings is not { Mode: AddressingMode.Static }
            || !TryNetwork(settings.Network, out var network) || !TryNetwork(settings.Range, out var range)
            || !TryAddress(settings.Gateway, out var gateway) || !Inside(network, range))
        {
            return null;
        }

        var dns = new List<IPAddress>();
        foreach (var text in settings.DnsServers)
        {
            if (!TryAddress(text, out var server))
            {
                return null;
            }

            dns.Add(server);
        }

        return new AddressPlan(network, range, gateway, dns);
    }

    /// <summary>Whether the orchestrator may give out <paramref name="address"/> under this plan.</summary>
    public bool Allows(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetwork && Range.Contains(address) && IsHost(Network, address)
        && !address.Equals(Gateway) && !DnsServers.Contains(address);

    /// <summary>Every address the plan may give out, lowest first.</summary>
    public IEnumerable<IPAddress> Candidates()
    {
        var first = ToUInt(Range.BaseAddress);
        var last = first + (uint)((1UL << (32 - Range.PrefixLength)) - 1);
        for (var n = first; ; n++)
        {
            var address = FromUInt(n);
            if (Allows(address))
            {
                yield return address;
            }

            if (n == last)
            {
                yield break;
            }
        }
    }

    /// <summary>LXC's <c>ip=</c> value: the address with the LAN's prefix length.</summary>
    public string Cidr(IPAddress address) => $"{address}/{PrefixLength}";

    // --- Parsing, shared with the validator --------------------------------------------------

    /// <summary>An IPv4 network in CIDR notation whose address is the network's own (no host bits set).</summary>
    internal static bool TryNetwork(string? text, out IPNetwork network)
    {
        network = default;
        var slash = text?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        // IPNetwork may mask host bits away: "192.168.1.10/24" is refused here, not read as 192.168.1.0/24.
        return slash > 0 && IPNetwork.TryParse(text!.Trim(), out network) && network.BaseAddress.AddressFamily == AddressFamily.InterNetwork
            && TryAddress(text[..slash], out var written) && written.Equals(network.BaseAddress);
    }

    /// <summary>A dotted IPv4 address (four parts: IPAddress alone would take "10" or "10.1").</summary>
    internal static bool TryAddress(string? text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text is null || text.Trim().Split('.').Length != 4 || !IPAddress.TryParse(text.Trim(), out var parsed)
            || parsed.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }

        address = parsed;
        return true;
    }

    internal static bool Inside(IPNetwork outer, IPNetwork inner) =>
        inner.PrefixLength >= outer.PrefixLength && outer.Contains(inner.BaseAddress);

    /// <summary>Neither the network's own address nor its broadcast address (a /31 or /32 has neither).</summary>
    internal static bool IsHost(IPNetwork network, IPAddress address)
    {
        if (!network.Contains(address))
        {
            return false;
        }

        if (network.PrefixLength >= 31)
        {
            return true;
        }

        var n = ToUInt(address);
        var baseAddress = ToUInt(network.BaseAddress);
        var broadcast = baseAddress | (uint.MaxValue >> network.PrefixLength);
        return n != baseAddress && n != broadcast;
    }

    /// <summary>Multicast, "this network", link-local and reserved blocks: never a guest's LAN.</summary>
    internal static bool IsReserved(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return b[0] == 0 || b[0] >= 224 || (b[0] == 169 && b[1] == 254);
    }

    internal static uint ToUInt(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    internal static IPAddress FromUInt(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
}
