using System.Security.Cryptography;

namespace Ctrlable.PveSim.Guests;

/// <summary>
/// PVE::Tools::random_ether_addr: random bytes, first octet unicast and locally administered, then the
/// datacenter mac_prefix (BC:24:11 by default since PVE 8.1) written over the start.
/// </summary>
public static class MacAddress
{
    public const string DefaultPrefix = "BC:24:11";

    public static string Random(string? prefix = DefaultPrefix)
    {
        Span<byte> bytes = stackalloc byte[6];
        RandomNumberGenerator.Fill(bytes);
        bytes[0] = (byte)((bytes[0] & 0xfe) | 2);
        var address = string.Join(':', bytes.ToArray().Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
        return prefix is null ? address : prefix.ToUpperInvariant() + address[prefix.Length..];
    }
}
