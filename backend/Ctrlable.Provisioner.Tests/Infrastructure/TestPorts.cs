using System.Net;
using System.Net.Sockets;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>
/// Ports for test listeners that must be known before they bind (a server started later, a URL written into a
/// configuration) and for a port nothing listens on. A port probed free with a bind to port 0 lies in the kernel's
/// ephemeral range, where any outgoing connection of the busy test run may take it before the server binds it (seen:
/// "address already in use" on a loaded machine). These come from below that range, where neither a bind to port 0
/// nor an outgoing connection lands, each handed out once per process, starting at a random place so that the test
/// processes running side by side rarely meet.
/// </summary>
public static class TestPorts
{
    private const int Lowest = 10000;
    private static readonly Lock Sync = new();
    private static readonly int Highest = EphemeralLow() - 1;
    private static int _next = Random.Shared.Next(Lowest, Highest);
    private static int _given;

    /// <summary>A loopback port free now that this process has not handed out before.</summary>
    public static int Free()
    {
        lock (Sync)
        {
            while (++_given <= Highest - Lowest)
            {
                var port = _next;
                _next = _next >= Highest ? Lowest : _next + 1;
                if (IsFree(port))
                {
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"no free loopback port left between {Lowest} and {Highest}");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The start of net.ipv4.ip_local_port_range (32768 when it cannot be read).</summary>
    private static int EphemeralLow()
    {
        const string path = "/proc/sys/net/ipv4/ip_local_port_range";
        return File.Exists(path) && int.TryParse(File.ReadAllText(path).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], out var low) && low > Lowest + 1000
            ? low
            : 32768;
    }
}
