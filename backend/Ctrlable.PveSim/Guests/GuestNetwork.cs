using System.Net;
using System.Net.Sockets;

namespace Ctrlable.PveSim.Guests;

/// <summary>
/// Hands out guest addresses when a guest's network comes up (the DHCP server of the emulated LAN).
/// Replace it to put guests where a test needs them, e.g. in 127.0.0.0/8 so the test can bind their IPs.
/// </summary>
public interface IGuestIpAllocator
{
    /// <summary>The address for the guest; the same guest keeps its address (a lease) until released.</summary>
    IPAddress Allocate(int vmid);

    /// <summary>Marks an address as the guest's (restoring a snapshot).</summary>
    void Reserve(int vmid, IPAddress address);

    void Release(int vmid);

    int PrefixLength { get; }

    IPAddress Gateway { get; }
}

/// <summary>Lowest free address of an IPv4 network, starting at a given host number. Default 127.0.10.0/24 from .10.</summary>
public sealed class SequentialIpAllocator : IGuestIpAllocator
{
    private readonly Lock _sync = new();
    private readonly uint _network;
    private readonly uint _first;
    private readonly uint _last;
    private readonly Dictionary<int, IPAddress> _leases = [];

    public SequentialIpAllocator(string cidr = "127.0.10.0/24", int firstHost = 10)
    {
        var slash = cidr.IndexOf('/');
        var address = IPAddress.Parse(slash < 0 ? cidr : cidr[..slash]);
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException("only IPv4 networks are supported", nameof(cidr));
        }

        PrefixLength = slash < 0 ? 24 : int.Parse(cidr[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var mask = PrefixLength == 0 ? 0u : uint.MaxValue << (32 - PrefixLength);
        _network = ToUInt(address) & mask;
        _first = _network + (uint)firstHost;
        _last = (_network | ~mask) - 1;
        Gateway = FromUInt(_network + 1);
    }

    public int PrefixLength { get; }

    public IPAddress Gateway { get; }

    public IPAddress Allocate(int vmid)
    {
        lock (_sync)
        {
            if (_leases.TryGetValue(vmid, out var existing))
            {
                return existing;
            }

            var used = _leases.Values.Select(ToUInt).ToHashSet();
            for (var candidate = _first; candidate <= _last; candidate++)
            {
                if (!used.Contains(candidate))
                {
                    return _leases[vmid] = FromUInt(candidate);
                }
            }

            throw new InvalidOperationException("guest address pool exhausted");
        }
    }

    public void Reserve(int vmid, IPAddress address)
    {
        lock (_sync)
        {
            _leases[vmid] = address;
        }
    }

    public void Release(int vmid)
    {
        lock (_sync)
        {
            _leases.Remove(vmid);
        }
    }

    private static uint ToUInt(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    private static IPAddress FromUInt(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
}
