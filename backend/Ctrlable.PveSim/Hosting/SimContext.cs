using System.Collections.Concurrent;
using System.Net;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Schema;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Hosting;

/// <summary>The emulator's moving parts, shared by the HTTP handlers and the background guest lifecycle.</summary>
internal sealed class SimContext
{
    private readonly Lock _randomSync = new();
    private readonly Random _random;
    private readonly List<GuestBootRecord> _bootLog = [];
    private readonly CancellationTokenSource _shutdown = new();

    public SimContext(PveSimOptions options, SimState state, SimClock clock, FaultInjector faults)
    {
        Options = options;
        State = state;
        Clock = clock;
        Faults = faults;
        Schema = PveSchema.Load(options.Version);
        _random = options.RandomSeed is { } seed ? new Random(seed) : new Random();
        Tasks = new TaskManager(clock, faults.TaskFailure, () => faults.Settings.TaskFailureMessage);
        IpAllocator = options.IpAllocator ?? new SequentialIpAllocator();
        HomeAssistant = new HomeAssistantGuests(this);
        Apps = new GuestApps(this);
    }

    /// <summary>The web apps of running Ctrlable guests (Z-Wave JS UI, Zigbee2MQTT, …), which tests can stop and start.</summary>
    public GuestApps Apps { get; }

    /// <summary>Stops the app inside a running guest (Core for a Home Assistant guest); false when there is none to stop.</summary>
    public async Task<bool> StopAppAsync(int vmid) =>
        IsUp(vmid) && (HomeAssistant.CoreRunning(vmid) is not null ? await HomeAssistant.StopCoreAsync(vmid) : Apps.Stop(vmid));

    /// <summary>Starts a running guest's app again after <see cref="StopAppAsync"/>; false when there is none.</summary>
    public bool StartApp(int vmid) =>
        IsUp(vmid) && (HomeAssistant.CoreRunning(vmid) is not null ? HomeAssistant.StartCore(vmid) : Apps.Start(vmid));

    /// <summary>Whether a guest's app answers (true), was stopped (false), or the guest runs none now (null).</summary>
    public bool? AppRunning(int vmid) => IsUp(vmid) ? HomeAssistant.CoreRunning(vmid) ?? Apps.IsListening(vmid) : null;

    private bool IsUp(int vmid)
    {
        lock (State.Sync)
        {
            return State.Guest(vmid) is { Running: true, NetworkUp: true };
        }
    }

    /// <summary>The Home Assistant emulators of running ctrlable-haos guests.</summary>
    public HomeAssistantGuests HomeAssistant { get; }

    public PveSimOptions Options { get; }

    public SimState State { get; }

    public SimClock Clock { get; }

    public SimTimings Timings => Options.Timings;

    public FaultInjector Faults { get; }

    public PveSchema Schema { get; }

    public TaskManager Tasks { get; }

    public IGuestIpAllocator IpAllocator { get; }

    public CancellationToken ShuttingDown => _shutdown.Token;

    public IReadOnlyList<GuestBootRecord> BootLog
    {
        get
        {
            lock (_bootLog)
            {
                return [.. _bootLog];
            }
        }
    }

    public double NextDouble()
    {
        lock (_randomSync)
        {
            return _random.NextDouble();
        }
    }

    public TimeSpan Between(TimeSpan min, TimeSpan max) => min + ((max - min) * NextDouble());

    public void RecordBoot(GuestBootRecord record)
    {
        lock (_bootLog)
        {
            _bootLog.Add(record);
        }
    }

    public void Shutdown()
    {
        _shutdown.Cancel();
        Tasks.Shutdown();
    }

    /// <summary>Which node a listener belongs to (each node has its own port and certificate).</summary>
    public Dictionary<int, string> NodeByPort { get; } = [];

    private long _requests;

    /// <summary>API requests received on /api2 since start (the benchmark's measure of load on the host).</summary>
    public long RequestCount => Interlocked.Read(ref _requests);

    public void CountRequest() => Interlocked.Increment(ref _requests);

    /// <summary>See <see cref="PveSimulator.Intercept"/>.</summary>
    public Func<SimApiCall, Func<Task>, Task>? Intercept { get; set; }

    public IPAddress ListenAddress => IPAddress.Parse(Options.ListenAddress);

    /// <summary>"METHOD /path/template" → names of the parameters its handler has read.</summary>
    public ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> ParameterReads { get; } = new(StringComparer.Ordinal);
}
