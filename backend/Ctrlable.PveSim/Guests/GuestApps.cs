using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Guests;

/// <summary>
/// The web app inside a running Ctrlable guest (Z-Wave JS UI, Zigbee2MQTT, Portainer, Frigate, FreePBX): a listener on
/// the guest's own address and its type's port stand-in, up from the moment the guest's network is, gone when the guest
/// stops. A test (or <c>POST /_sim/guests/{vmid}/app/stop</c>) stops it as <c>systemctl stop</c> in the guest would; the
/// guest keeps running. A start of the guest brings the app back (its service is enabled). Home Assistant guests stop and
/// start Core instead (<see cref="HomeAssistantGuests"/>).
/// </summary>
internal sealed class GuestApps : IAsyncDisposable
{
    /// <summary>The port each type's app listens on in a real guest (community-scripts installs), and what it calls itself.</summary>
    public static readonly IReadOnlyDictionary<string, (int Port, string Title)> Known = new Dictionary<string, (int, string)>(StringComparer.Ordinal)
    {
        ["zwavejs"] = (8091, "Z-Wave JS UI"),
        ["zigbee2mqtt"] = (8080, "Zigbee2MQTT"),
        ["docker-portainer"] = (9443, "Portainer"),
        ["frigate"] = (5000, "Frigate"),
        ["freepbx"] = (80, "FreePBX"),
    };

    private readonly SimContext _sim;
    private readonly ConcurrentDictionary<int, AppListener> _running = new();
    private readonly ConcurrentDictionary<int, byte> _stoppedByHand = new();

    public GuestApps(SimContext sim)
    {
        _sim = sim;
        if (sim.Options.AppPorts is { } configured)
        {
            var ports = new Dictionary<string, int>(StringComparer.Ordinal);
            var taken = new HashSet<int>();
            foreach (var type in Known.Keys)
            {
                var port = configured.TryGetValue(type, out var p) && p != 0 ? p : LoopbackPorts.Free(taken);
                taken.Add(port);
                ports[type] = port;
            }

            Ports = ports;
        }
    }

    /// <summary>Type → the port standing in for the app's real one on every such guest; null when apps are not emulated.</summary>
    public IReadOnlyDictionary<string, int>? Ports { get; }

    /// <summary>The app type of a guest: the Ctrlable type among its tags (the deploy tags clones <c>ctrlable;&lt;type&gt;;release-…</c>).</summary>
    public static string? TypeOf(SimGuest guest) => guest.Tags.FirstOrDefault(Known.ContainsKey);

    /// <summary>The guest's network came up: its app starts listening (a start clears an earlier stop by hand).</summary>
    public void Booted(SimGuest guest, IPAddress address)
    {
        _stoppedByHand.TryRemove(guest.Vmid, out _);
        if (Ports is null || TypeOf(guest) is not { } type)
        {
            return;
        }

        Listen(guest.Vmid, address, type);
    }

    /// <summary>The guest's address changed (a new DHCP lease): its app listens at the new one; an app stopped by hand stays stopped.</summary>
    public void Moved(SimGuest guest, IPAddress address)
    {
        if (Ports is null || TypeOf(guest) is not { } type || !_running.TryRemove(guest.Vmid, out var listener))
        {
            return;
        }

        listener.Dispose();
        Listen(guest.Vmid, address, type);
    }

    /// <summary>The guest stopped or went away: nothing listens on its address any more.</summary>
    public void Stopped(int vmid)
    {
        _stoppedByHand.TryRemove(vmid, out _);
        if (_running.TryRemove(vmid, out var listener))
        {
            listener.Dispose();
        }
    }

    /// <summary>Whether the guest's app listens now (null: the guest has no emulated app or is not running).</summary>
    public bool? IsListening(int vmid) => _running.ContainsKey(vmid) ? true : _stoppedByHand.ContainsKey(vmid) ? false : null;

    /// <summary>Stops the app of a running guest; false when the guest runs no emulated app.</summary>
    public bool Stop(int vmid)
    {
        if (!_running.TryRemove(vmid, out var listener))
        {
            return _stoppedByHand.ContainsKey(vmid);
        }

        _stoppedByHand[vmid] = 0;
        listener.Dispose();
        return true;
    }

    /// <summary>Starts the app of a running guest stopped by <see cref="Stop"/>; false when there is none.</summary>
    public bool Start(int vmid)
    {
        if (_running.ContainsKey(vmid))
        {
            return true;
        }

        SimGuest? guest;
        IPAddress? address;
        lock (_sim.State.Sync)
        {
            guest = _sim.State.Guest(vmid);
            address = guest is { Running: true, NetworkUp: true } ? guest.Address : null;
        }

        if (guest is null || address is null || TypeOf(guest) is not { } type || Ports is null || !_stoppedByHand.TryRemove(vmid, out _))
        {
            return false;
        }

        Listen(vmid, address, type);
        return true;
    }

    private void Listen(int vmid, IPAddress address, string type)
    {
        var listener = new AppListener(new IPEndPoint(address, Ports![type]), Known[type].Title);
        if (!_running.TryAdd(vmid, listener))
        {
            listener.Dispose();
            return;
        }

        try
        {
            listener.Start();
        }
        catch (SocketException)
        {
            // Something else holds the port on that address: the app cannot listen, as on a real guest.
            _running.TryRemove(vmid, out _);
            listener.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var vmid in _running.Keys)
        {
            Stopped(vmid);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// A minimal web app: reads a request's head and answers 200 with a page naming the app, then closes. Enough for a
    /// browser and for a health probe (HTTP status or TCP connect); Portainer's TLS is not emulated.
    /// </summary>
    private sealed class AppListener(IPEndPoint endpoint, string title) : IDisposable
    {
        private readonly TcpListener _listener = new(endpoint);
        private readonly CancellationTokenSource _stop = new();

        public void Start()
        {
            _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _listener.Start();
            _ = Task.Run(AcceptAsync);
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }

                _ = Task.Run(() => AnswerAsync(client));
            }
        }

        private async Task AnswerAsync(Socket client)
        {
            using (client)
            {
                try
                {
                    using var limit = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    limit.CancelAfter(TimeSpan.FromSeconds(10));
                    var buffer = new byte[8192];
                    var read = 0;
                    while (read < buffer.Length)
                    {
                        var n = await client.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, limit.Token);
                        if (n == 0)
                        {
                            return;
                        }

                        read += n;
                        if (Encoding.ASCII.GetString(buffer, 0, read).Contains("\r\n\r\n", StringComparison.Ordinal))
                        {
                            break;
                        }
                    }

                    var body = Encoding.UTF8.GetBytes($"<!DOCTYPE html><html><head><title>{title}</title></head><body>{title} (emulated)</body></html>");
                    var head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
                    await client.SendAsync(head, SocketFlags.None, limit.Token);
                    await client.SendAsync(body, SocketFlags.None, limit.Token);
                    client.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    // The client went away, or the app was stopped.
                }
            }
        }

        public void Dispose()
        {
            // Not disposed: the accept loop and open answers may still read its token.
            _stop.Cancel();
            _listener.Stop();
        }
    }
}
