using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.Flows;
using Ctrlable.HaSim.Http;
using Ctrlable.HaSim.State;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Ctrlable.HaSim;

/// <summary>What a test can see of the emulated instance (a copy; changes do not flow back).</summary>
/// <summary>A Home Assistant VM's disk at one moment (a Proxmox snapshot of it): /config's files, host settings, versions.</summary>
public sealed record HaDiskImage(SortedDictionary<string, byte[]>? ConfigFiles, HaHostSettings Host, HaVersions Versions);

public sealed record HaStateSnapshot(
    HaPhase Phase,
    int Boots,
    string? CoreUuid,
    IReadOnlyList<HaUser> Users,
    IReadOnlyList<HaCredential> Credentials,
    IReadOnlyList<HaRefreshToken> RefreshTokens,
    IReadOnlyList<HaConfigEntry> ConfigEntries,
    IReadOnlyList<string> OnboardingDone,
    IReadOnlyList<string> UploadedBackups,
    string? RestoredBackupId,
    HaConfig Config)
{
    public HaUser? Owner => Users.FirstOrDefault(u => u.IsOwner);

    /// <summary>Whether the homeassistant auth provider accepts this password (bcrypt, as HA checks it).</summary>
    public bool PasswordMatches(string username, string password) => Config.PasswordMatches(username, password);
}

/// <summary>
/// A running Home Assistant OS emulator (see README.md): the landing page on first boot, then Core with onboarding, the
/// onboarding backup restore (Core stops, connections drop, it comes back restored), the auth API, the WebSocket API
/// and config flows. Each phase runs its own Kestrel server, so a stopped Core refuses connections as a real one does.
/// <code>
/// await using var ha = await HaSimulator.StartAsync(new HaSimOptions { Address = "127.0.10.20" });
/// await ha.WaitForPhaseAsync(HaPhase.Running);
/// using var http = new HttpClient { BaseAddress = ha.BaseAddress };
/// </code>
/// </summary>
public sealed partial class HaSimulator : IAsyncDisposable
{
    private readonly HaRuntime _ha;
    private readonly Channel<RestartRequest> _restarts = Channel.CreateUnbounded<RestartRequest>();
    private readonly CancellationTokenSource _disposing = new();
    private readonly Task _loop;
    private readonly Task _saving;
    private readonly HaDisk? _disk;
    private readonly bool _coreOnDisk;
    private readonly TaskCompletionSource _firstPhase = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;
    private CancellationTokenSource? _appStopping;
    private TimeSpan _latency;
    private readonly SemaphoreSlim _powerOnSignal = new(0);
    private readonly Lock _powerSync = new();
    private int _offsRequested;
    private int _onsGiven;
    private IPAddress _address;
    private Action<WebApplication>? _coreMap;

    private HaSimulator(HaSimOptions options, int legacyPort, int httpPort)
    {
        Options = options;
        LegacyPort = legacyPort;
        HttpPort = httpPort;
        _ha = new HaRuntime(options);
        _disk = options.DiskDirectory is { } directory ? new HaDisk(directory) : null;
        if (_disk?.LoadHost() is { } host)
        {
            _ha.Host = host;
        }

        if (_disk?.LoadVersions() is { } versions)
        {
            _ha.Versions = versions;
        }

        _address = _ha.Host.StaticAddress ?? IPAddress.Parse(options.Address);
        if (_disk?.Load() is { } saved)
        {
            _ha.Config = saved;
            _coreOnDisk = true;
        }
        else if (options.PreinstalledBackup is { } preinstalled)
        {
            _ha.Restore(HaBackup.Read(preinstalled, null));
            _ha.RestoredBackupId = null;
        }

        _loop = Task.Run(RunAsync);
        _saving = _disk is null ? Task.CompletedTask : Task.Run(SaveWhileRunningAsync);
    }

    public HaSimOptions Options { get; }

    /// <summary>Where Home Assistant listens now: the static address set through Supervisor, else <see cref="HaSimOptions.Address"/>.</summary>
    public IPAddress Address
    {
        get
        {
            lock (_ha.Sync)
            {
                return _address;
            }
        }
    }

    /// <summary>The static address set through Supervisor's network API; null with DHCP.</summary>
    public IPAddress? StaticAddress
    {
        get
        {
            lock (_ha.Sync)
            {
                return _ha.Host.StaticAddress;
            }
        }
    }

    /// <summary>Supervisor's host settings: host name and the LAN interface's IPv4 setting.</summary>
    public HaHostSettings Host
    {
        get
        {
            lock (_ha.Sync)
            {
                return _ha.Host;
            }
        }
    }

    /// <summary>The port standing in for 8123.</summary>
    public int LegacyPort { get; }

    /// <summary>The port standing in for 80.</summary>
    public int HttpPort { get; }

    /// <summary>Both ports, 8123's stand-in first (the order the orchestrator probes by default).</summary>
    public IReadOnlyList<int> Ports => [LegacyPort, HttpPort];

    /// <summary>Where Core answers once running (by <see cref="HaSimOptions.Layout"/>).</summary>
    public Uri BaseAddress => new($"http://{Address}:{CorePort}/");

    public int CorePort => Options.Layout == HaPortLayout.Core80 ? HttpPort : LegacyPort;

    /// <summary>Core is on the VM's disk: it has started here, or the disk directory held an installed instance.</summary>
    public bool CoreInstalled
    {
        get
        {
            lock (_ha.Sync)
            {
                return _coreOnDisk || _ha.Boots > 0;
            }
        }
    }

    public HaPhase Phase
    {
        get
        {
            lock (_ha.Sync)
            {
                return _ha.Phase;
            }
        }
    }

    public HaStateSnapshot State
    {
        get
        {
            lock (_ha.Sync)
            {
                var c = _ha.Config.Clone();
                return new HaStateSnapshot(_ha.Phase, _ha.Boots, c.CoreUuid, c.Users, c.Credentials, c.RefreshTokens, c.ConfigEntries,
                    c.OnboardingDone, [.. _ha.Backups.Keys], _ha.RestoredBackupId, c);
            }
        }
    }

    /// <summary>Slows every HTTP request and WebSocket upgrade by this much (fault knob "slow").</summary>
    public TimeSpan Latency
    {
        get => _latency;
        set => _latency = value;
    }

    public static async Task<HaSimulator> StartAsync(HaSimOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new HaSimOptions();
        var address = IPAddress.Parse(options.Address);
        var legacy = options.LegacyPort == 0 ? FreePort(address) : options.LegacyPort;
        var http = options.HttpPort == 0 ? FreePort(address, legacy) : options.HttpPort;
        var sim = new HaSimulator(options, legacy, http);
        await sim._firstPhase.Task.WaitAsync(cancellationToken);
        if (!sim.Address.Equals(address))
        {
            // The disk holds a static address set through Supervisor before: that is where the VM is now.
            options.AddressChanged?.Invoke(sim.Address);
        }

        return sim;
    }

    /// <summary>
    /// Restarts Core now (as <c>homeassistant.restart</c> or a crash would): connections drop, Core memory is lost. With
    /// <paramref name="landing"/>, the landing page shows that long before Core starts (Supervisor installing Core again).
    /// </summary>
    public void RestartCore(TimeSpan? down = null, TimeSpan? landing = null) =>
        _restarts.Writer.TryWrite(new RestartRequest(TimeSpan.Zero, down ?? Options.RestartDownTime, landing ?? TimeSpan.Zero, null));

    /// <summary>The VM stops: every connection drops and nothing listens until <see cref="PowerOn"/>; /config is kept.</summary>
    public async Task PowerOffAsync()
    {
        lock (_powerSync)
        {
            _offsRequested++;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_restarts.Writer.TryWrite(new RestartRequest(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, null) { PowerOff = true, Done = done }))
        {
            await done.Task.WaitAsync(_disposing.Token);
        }
    }

    /// <summary>The VM starts again after <see cref="PowerOffAsync"/>: Core (already installed) starts, no landing page.</summary>
    public void PowerOn()
    {
        lock (_powerSync)
        {
            // Matches a power-off (possibly still queued), so a reboot's off-then-on cannot lose the "on".
            if (_offsRequested > _onsGiven)
            {
                _onsGiven++;
                _powerOnSignal.Release();
            }
        }
    }

    /// <summary>The next accepted restore fails inside Supervisor after Core stopped: Core comes back un-restored with a failed last_action_event.</summary>
    public void FailNextRestore(string reason = "Restore failed")
    {
        lock (_ha.Sync)
        {
            _ha.FailNextRestore = reason;
        }
    }

    /// <summary>The next accepted restore keeps the landing page up this long before Core returns (Supervisor updating Core to the backup's version).</summary>
    public void SlowNextRestore(TimeSpan landing)
    {
        lock (_ha.Sync)
        {
            _ha.NextRestoreLanding = landing;
        }
    }

    /// <summary>Config flows of <paramref name="handler"/> never finish: every form submitted comes back as the same form.</summary>
    public void NeverFinishConfigFlows(string handler)
    {
        lock (_ha.Sync)
        {
            _ha.EndlessFlows.Add(handler);
        }
    }

    /// <summary>The handlers of the config flows in progress (Core memory: none after a restart).</summary>
    public IReadOnlyList<string> ConfigFlowsInProgress
    {
        get
        {
            lock (_ha.Sync)
            {
                return [.. _ha.ConfigFlows.Values.Select(f => f.Handler)];
            }
        }
    }

    /// <summary>Sign-ins refused with <c>invalid_auth</c> since the emulator started.</summary>
    public int FailedLogins
    {
        get
        {
            lock (_ha.Sync)
            {
                return _ha.FailedLogins;
            }
        }
    }

    /// <summary>Changes /config as a test needs (under the emulator's lock).</summary>
    public void Edit(Action<HaConfig> change)
    {
        lock (_ha.Sync)
        {
            change(_ha.Config);
        }
    }

    public async Task WaitForPhaseAsync(HaPhase phase, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            lock (_ha.Sync)
            {
                if (_ha.Phase == phase && (phase != HaPhase.Running || _ha.BackupLoaded))
                {
                    return;
                }
            }

            await Task.Delay(20, cts.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _disposing.CancelAsync();
        _restarts.Writer.TryComplete();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
            // the loop ends with the cancellation
        }

        await _saving;
        await StopAppAsync();
        SaveDisk();
        _disposing.Dispose();
        _powerOnSignal.Dispose();
    }

    // ---- lifecycle ----

    private async Task RunAsync()
    {
        var ct = _disposing.Token;
        try
        {
            if (Options.LandingDuration > TimeSpan.Zero && Options.PreinstalledBackup is null && !_coreOnDisk)
            {
                await ServeLandingAsync(Options.LandingDuration, ct);
            }

            while (!ct.IsCancellationRequested)
            {
                await StartCoreAsync(ct);
                var request = await _restarts.Reader.ReadAsync(ct);
                while (request.Rebind is { } moved)
                {
                    // The host's address changed under Core (NetworkManager): connections to the old one drop, Core keeps running.
                    await Task.Delay(request.StopAfter, Options.TimeProvider, ct);
                    await StopAppAsync();
                    await StartAppAsync(HaPhase.Running, _coreMap!, ct);
                    Options.AddressChanged?.Invoke(moved);
                    request = await _restarts.Reader.ReadAsync(ct);
                }

                await Task.Delay(request.StopAfter, Options.TimeProvider, ct);
                await StopAppAsync();
                lock (_ha.Sync)
                {
                    _ha.Phase = HaPhase.Down;
                    request.ApplyWhileDown?.Invoke();
                }

                if (request.PowerOff)
                {
                    // The VM is off: /config and Supervisor's backups stay on its disk until it starts again.
                    SaveDisk();
                    request.Done?.TrySetResult();
                    await _powerOnSignal.WaitAsync(ct);
                    continue;
                }

                await Task.Delay(request.Down, Options.TimeProvider, ct);
                if (request.Landing > TimeSpan.Zero)
                {
                    await ServeLandingAsync(request.Landing, ct);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            // disposed
        }
        finally
        {
            _firstPhase.TrySetResult();
        }
    }

    /// <summary>Supervisor changed the host settings (caller holds the runtime's lock): kept on the disk; a new address moves Core there.</summary>
    private void HostChanged(HaHostSettings host)
    {
        _disk?.SaveHost(host);
        MoveTo(host.StaticAddress ?? _ha.DhcpAddress, Options.NetworkChangeDelay);
    }

    /// <summary>
    /// The LAN's DHCP server gave the VM another address (a lease that changed): with no static address set through
    /// Supervisor, Core listens there from now on (connections to the old address drop, Core keeps running) and
    /// <see cref="HaSimOptions.AddressChanged"/> tells the guest agent. False when a static address holds the VM.
    /// </summary>
    public bool MoveDhcpAddress(IPAddress address)
    {
        lock (_ha.Sync)
        {
            _ha.DhcpAddress = address;
            if (_ha.Host.StaticAddress is not null)
            {
                return false;
            }

            MoveTo(address, TimeSpan.Zero);
            return true;
        }
    }

    /// <summary>Core listens on <paramref name="address"/> from <paramref name="after"/> on, unless it is there already (caller holds the runtime's lock).</summary>
    private void MoveTo(IPAddress address, TimeSpan after)
    {
        if (!address.Equals(_address))
        {
            _address = address;
            _restarts.Writer.TryWrite(new RestartRequest(after, TimeSpan.Zero, TimeSpan.Zero, null) { Rebind = address });
        }
    }

    private async Task SaveWhileRunningAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(_disposing.Token))
            {
                SaveDisk();
            }
        }
        catch (OperationCanceledException)
        {
            // disposed: DisposeAsync writes the last state
        }
    }

    /// <summary>/config to the disk directory, once Core has run on it (a landing page alone installs nothing).</summary>
    private void SaveDisk()
    {
        if (_disk is null)
        {
            return;
        }

        if (!CoreInstalled)
        {
            return;
        }

        SortedDictionary<string, byte[]> files;
        lock (_ha.Sync)
        {
            files = _ha.Config.ToFiles();
        }

        _disk.Save(files);
    }

    private async Task ServeLandingAsync(TimeSpan duration, CancellationToken ct)
    {
        await StartAppAsync(HaPhase.Landing, LandingPage.Map, ct);
        await Task.Delay(duration, Options.TimeProvider, ct);
        // Supervisor replaces the landing page container with Core's: every connection drops.
        await StopAppAsync();
        lock (_ha.Sync)
        {
            _ha.Phase = HaPhase.Down;
        }
    }

    private async Task StartCoreAsync(CancellationToken ct)
    {
        lock (_ha.Sync)
        {
            _ha.CoreStarted();
        }

        var flows = new ConfigFlows(_ha);
        var supervisor = new SupervisorApi(_ha, () => CorePort, HostChanged, Update);
        var websocket = new WebSocketApi(_ha, flows, supervisor);
        _coreMap = app => CoreApp.Map(app, _ha, flows, websocket, r => _restarts.Writer.TryWrite(r), () => _appStopping!.Token);
        await StartAppAsync(HaPhase.Running, _coreMap, ct);
        _ = Task.Run(async () =>
        {
            await Task.Delay(Options.BackupLoadDelay, Options.TimeProvider, ct);
            lock (_ha.Sync)
            {
                if (_ha.Phase == HaPhase.Running)
                {
                    _ha.BackupLoaded = true;
                }
            }
        }, ct);
    }

    private async Task StartAppAsync(HaPhase phase, Action<WebApplication> map, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        var address = Address;
        // The landing page listens on 8123 and 80; Core on its layout's ports (Core8123: 8123 only).
        var ports = phase == HaPhase.Landing || Options.Layout == HaPortLayout.Core80 ? new[] { LegacyPort, HttpPort } : [LegacyPort];
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            foreach (var port in ports)
            {
                kestrel.Listen(address, port, l => l.Protocols = HttpProtocols.Http1);
            }
        });
        var app = builder.Build();
        app.Use(async (http, next) =>
        {
            if (_latency > TimeSpan.Zero)
            {
                await Task.Delay(_latency, Options.TimeProvider, http.RequestAborted);
            }

            await next(http);
        });
        var redirectFrom = phase == HaPhase.Landing ? HttpPort : LegacyPort;
        var redirectTo = phase == HaPhase.Landing ? LegacyPort : HttpPort;
        if (ports.Length == 2)
        {
            // The other port answers every request with 302 to the live one (same path): a POST must not follow it.
            app.Use((http, next) => http.Connection.LocalPort == redirectFrom
                ? Redirect(http, redirectTo)
                : next(http));
        }

        map(app);
        _appStopping = new CancellationTokenSource();
        await app.StartAsync(ct);
        _app = app;
        lock (_ha.Sync)
        {
            _ha.Phase = phase;
        }

        _firstPhase.TrySetResult();
    }

    private static Task Redirect(HttpContext http, int port)
    {
        var host = http.Request.Host.Host;
        http.Response.StatusCode = 302;
        http.Response.Headers.Location = $"http://{host}:{port}{http.Request.PathBase}{http.Request.Path}{http.Request.QueryString}";
        return Task.CompletedTask;
    }

    private async Task StopAppAsync()
    {
        if (_app is not { } app)
        {
            return;
        }

        _app = null;
        if (_appStopping is { } stopping)
        {
            await stopping.CancelAsync();
        }

        // A cancelled token: Kestrel aborts open connections instead of draining them (a container being killed).
        using var now = new CancellationTokenSource();
        await now.CancelAsync();
        try
        {
            await app.StopAsync(now.Token);
        }
        catch (OperationCanceledException)
        {
            // aborted as intended
        }

        await app.DisposeAsync();
        _appStopping?.Dispose();
        _appStopping = null;
    }

    private static int FreePort(IPAddress address, int not = -1)
    {
        while (true)
        {
            using var listener = new TcpListener(address, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            if (port != not)
            {
                return port;
            }
        }
    }
}
