using System.Net;
using System.Net.Http.Headers;
using Ctrlable.PveSim.Api;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Schema;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tasks;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Ctrlable.PveSim;

/// <summary>One node's API endpoint: each emulated node listens on its own port with its own certificate.</summary>
public sealed record SimNodeEndpoint(string Node, Uri BaseAddress, string CertificateFingerprint);

/// <summary>An /api2 request as <see cref="PveSimulator.Intercept"/> sees it: method, relative path (<c>/nodes/pve1/qemu/100/status/start</c>), query (<c>?vmid=100</c> or empty).</summary>
public sealed record SimApiCall(string Method, string Path, string Query);

/// <summary>
/// A running Proxmox VE emulator. In tests:
/// <code>
/// await using var sim = await PveSimulator.StartAsync(new PveSimOptions { Version = PveVersion.V8_2, TimingScale = 0.01 });
/// var token = sim.Seed(LeastPrivilege.Spec(sim.Version)).Tokens[0];
/// using var http = sim.CreateClient(token);
/// </code>
/// </summary>
public sealed class PveSimulator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly SimContext _sim;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _snapshotLoop;
    private string? _lastSnapshot;

    private PveSimulator(WebApplication app, SimContext sim, IReadOnlyList<SimNodeEndpoint> endpoints)
    {
        _app = app;
        _sim = sim;
        NodeEndpoints = endpoints;
        _snapshotLoop = sim.Options.SnapshotPath is null ? Task.CompletedTask : SnapshotLoopAsync();
    }

    public PveVersion Version => _sim.Options.Version;

    /// <summary>https://127.0.0.1:PORT/api2/json/ of the first node.</summary>
    public Uri BaseAddress => NodeEndpoints[0].BaseAddress;

    /// <summary>The first node's certificate fingerprint, as GET /nodes reports it (AA:BB:...).</summary>
    public string CertificateFingerprint => NodeEndpoints[0].CertificateFingerprint;

    public IReadOnlyList<SimNodeEndpoint> NodeEndpoints { get; }

    /// <summary>Nodes, storages, guests and access control; lock <see cref="SimState.Sync"/> when changing it.</summary>
    public SimState State => _sim.State;

    public FaultInjector Faults => _sim.Faults;

    public TaskManager Tasks => _sim.Tasks;

    /// <summary>Every task (type, id, node, start, end, outcome), oldest first.</summary>
    public IReadOnlyList<TaskRecord> TaskLog => _sim.Tasks.Records;

    /// <summary>First-boot runs of marked guests, with errors if the behaviour failed.</summary>
    public IReadOnlyList<GuestBootRecord> BootLog => _sim.BootLog;

    public SimClock Clock => _sim.Clock;

    /// <summary>
    /// The ports of every emulated Home Assistant (8123's stand-in, 80's stand-in), each on its guest's own address;
    /// pass them to the orchestrator's <c>HomeAssistant:Ports</c>. Null when <see cref="PveSimOptions.HomeAssistant"/> is null.
    /// </summary>
    public (int LegacyPort, int HttpPort)? HomeAssistantPorts => _sim.HomeAssistant.Ports;

    /// <summary>The Home Assistant emulator of a ctrlable-haos guest once it has booted (null before, or for other guests).</summary>
    public Ctrlable.HaSim.HaSimulator? HomeAssistant(int vmid) => _sim.HomeAssistant.Get(vmid);

    /// <summary>
    /// Type → the port every guest of that type runs its web app on (stand-ins for 8091, 8080, 9443, 5000, 80), each on
    /// its guest's own address; pass them to the orchestrator's <c>Dashboard:AppPorts</c>. Null when apps are not emulated.
    /// </summary>
    public IReadOnlyDictionary<string, int>? AppPorts => _sim.Apps.Ports;

    /// <summary>
    /// Stops the app inside a running guest as <c>systemctl stop</c> would (the guest keeps running): its port stops
    /// answering; for a Home Assistant guest, Core stops. False when the guest is not running or runs no emulated app.
    /// </summary>
    public Task<bool> StopAppAsync(int vmid) => _sim.StopAppAsync(vmid);

    /// <summary>Starts the app stopped by <see cref="StopAppAsync"/> again. False when the guest is not running or runs no emulated app.</summary>
    public bool StartApp(int vmid) => _sim.StartApp(vmid);

    /// <summary>Whether the guest's app answers (true), was stopped (false), or the guest runs none (null).</summary>
    public bool? AppRunning(int vmid) => _sim.AppRunning(vmid);

    /// <summary>
    /// The LAN's DHCP server gives the running guest <paramref name="address"/> instead of its lease (as a router may):
    /// Proxmox reports the new address from now on, the guest's app (or Home Assistant) listens there. See <see cref="LeaseChange"/>
    /// for what is refused.
    /// </summary>
    public LeaseChange ChangeLease(int vmid, System.Net.IPAddress address) => GuestRuntime.ChangeLease(_sim, vmid, address);

    /// <summary>Takes a node off the network or brings it back (see <see cref="ClusterControl.SetOnline"/>).</summary>
    public NodeChange SetNodeOnline(string node, bool online) => ClusterControl.SetOnline(_sim, node, online);

    /// <summary>An admin's migration of a guest to <paramref name="target"/> (a running VM live, a running CT restarted); the task's UPID when it started.</summary>
    public (MigrationStart Outcome, string? Upid) Migrate(int vmid, string target) => ClusterControl.Migrate(_sim, vmid, target);

    /// <summary>API requests received on /api2 since start, across all nodes.</summary>
    public long RequestCount => _sim.RequestCount;

    /// <summary>
    /// A test's hook around every /api2 request, before faults, authentication and the handler: call the second argument to
    /// have the request handled and answered (when it returns, the answer is written), or act before and after it — e.g.
    /// freeze a client process when its request arrives, let the emulator carry it out, then kill the process. Null: none.
    /// </summary>
    public Func<SimApiCall, Func<Task>, Task>? Intercept
    {
        get => _sim.Intercept;
        set => _sim.Intercept = value;
    }

    public PveSchema Schema => _sim.Schema;

    internal IEnumerable<(string Method, string Path)> Routes => Router.Routes;

    internal PveRouter Router { get; private set; } = null!;

    internal IReadOnlyDictionary<string, IReadOnlyCollection<string>> ParameterReads =>
        _sim.ParameterReads.ToDictionary(p => p.Key, p => (IReadOnlyCollection<string>)p.Value.Keys.ToList());

    public static async Task<PveSimulator> StartAsync(PveSimOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PveSimOptions();
        if (options.Nodes.Count == 0)
        {
            throw new ArgumentException("at least one node is needed", nameof(options));
        }

        var clock = new SimClock(options.TimeProvider, options.TimingScale);
        var state = new SimState(options.Version, options.ClusterName);
        var sim = new SimContext(options, state, clock, new FaultInjector(options.RandomSeed));

        if (options.SnapshotPath is { } path && File.Exists(path))
        {
            StateSnapshot.FromJson(await File.ReadAllTextAsync(path, cancellationToken)).Restore(sim);
        }
        else
        {
            foreach (var node in options.Nodes)
            {
                state.Nodes[node] = new SimNode(node, NodeCertificates.Create(node, clock.Now), clock.Now - TimeSpan.FromDays(3));
            }

            if (options.DefaultStorages)
            {
                Seeder.DefaultStorages(state);
            }

            if (options.Seed is { } seed)
            {
                Seeder.Apply(sim, seed);
            }
        }

        var router = PveRouter.CreateDefault();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (options.ConsoleLogging)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        }

        var listeners = new List<(string Node, ListenOptions Listen)>();
        var address = IPAddress.Parse(options.ListenAddress);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            var port = options.Port;
            foreach (var node in state.Nodes.Values)
            {
                var certificate = node.Certificate;
                kestrel.Listen(address, port, listen =>
                {
                    // pveproxy speaks HTTP/1.1 only; HTTP/2 would also drop the reason phrases.
                    listen.Protocols = HttpProtocols.Http1;
                    listen.UseHttps(certificate);
                    listeners.Add((node.Name, listen));
                });
                port = port == 0 ? 0 : port + 1;
            }
        });

        var app = builder.Build();
        var api = new PveApiMiddleware(sim, router);
        app.MapWhen(http => http.Request.Path.StartsWithSegments("/api2", StringComparison.Ordinal), branch => branch.Run(api.InvokeAsync));
        if (options.AdminEndpoints)
        {
            AdminApi.Map(app, sim);
        }
        await app.StartAsync(cancellationToken);

        var endpoints = new List<SimNodeEndpoint>();
        foreach (var (node, listen) in listeners)
        {
            var port = listen.IPEndPoint!.Port;
            sim.NodeByPort[port] = node;
            endpoints.Add(new SimNodeEndpoint(node, new Uri($"https://{options.ListenAddress}:{port}/api2/json/"), state.Nodes[node].Fingerprint));
        }

        return new PveSimulator(app, sim, endpoints) { Router = router };
    }

    /// <summary>Applies a seed (roles, pools, users/tokens, ACLs, templates) and returns the created tokens.</summary>
    public SeedResult Seed(SeedSpec spec) => Seeder.Apply(_sim, spec);

    /// <summary>Adds one guest (a template when <paramref name="isTemplate"/>) to the running emulator.</summary>
    public SimGuest AddGuest(TemplateSeed seed, bool isTemplate = true)
    {
        lock (State.Sync)
        {
            return Seeder.AddGuest(_sim, seed, isTemplate);
        }
    }

    /// <summary>
    /// An HttpClient for a node that trusts exactly that node's certificate (by fingerprint) and, when given,
    /// sends the token. BaseAddress is the node's /api2/json/.
    /// </summary>
    public HttpClient CreateClient(ApiTokenCredentials? token = null, string? node = null)
    {
        var endpoint = node is null ? NodeEndpoints[0] : NodeEndpoints.Single(e => e.Node == node);
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                certificate is not null && NodeCertificates.Fingerprint(certificate) == endpoint.CertificateFingerprint,
        };
        var client = new HttpClient(handler) { BaseAddress = endpoint.BaseAddress };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("PVEAPIToken", $"{token.TokenId}={token.Secret}");
        }

        return client;
    }

    public Task SaveSnapshotAsync(string path, CancellationToken cancellationToken = default) =>
        WriteSnapshotAsync(path, StateSnapshot.Capture(_sim).ToJson(), cancellationToken);

    /// <summary>
    /// Written beside the file and then renamed over it: a write cut short (cancelled at shutdown, a killed process)
    /// leaves the previous snapshot, never an empty or half-written one that the next start could not read.
    /// </summary>
    private static async Task WriteSnapshotAsync(string path, string json, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, json, cancellationToken);
        File.Move(temporary, path, overwrite: true);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _snapshotLoop;
        if (_sim.Options.SnapshotPath is { } path)
        {
            await SaveSnapshotAsync(path);
        }

        _sim.Shutdown();
        await _sim.HomeAssistant.DisposeAsync();
        await _sim.Apps.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task SnapshotLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                var json = StateSnapshot.Capture(_sim).ToJson();
                if (json != _lastSnapshot)
                {
                    await WriteSnapshotAsync(_sim.Options.SnapshotPath!, json, _stopping.Token);
                    _lastSnapshot = json;
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // shutting down; DisposeAsync writes the final snapshot
        }
    }
}
