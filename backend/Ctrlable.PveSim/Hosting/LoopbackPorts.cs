using System.Net;
using System.Net.Sockets;

namespace Ctrlable.PveSim.Hosting;

/// <summary>Ports the emulated guests' services stand in on (every guest uses the same one on its own 127.x address).</summary>
internal static class LoopbackPorts
{
    /// <summary>A port free on loopback now, other than those in <paramref name="taken"/>.</summary>
    public static int Free(IReadOnlyCollection<int> taken)
    {
        while (true)
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            if (!taken.Contains(port))
            {
                return port;
            }
        }
    }
}
