using System.Text.RegularExpressions;

namespace Ctrlable.PveSim.Faults;

/// <summary>
/// Runtime-switchable faults. All off by default. Rates are fractions 0..1 of the affected requests or tasks, drawn at
/// random; a schedule (<c>…Every</c>, <c>…Limit</c>) strikes deterministically instead: every Nth affected request or
/// lock attempt, counted from when the settings were set, at most Limit times. Both may be set; either strikes.
/// Set through <see cref="FaultInjector.Settings"/> in-process or <c>PUT /_sim/faults</c> (same JSON shape);
/// <see cref="FaultInjector.Fired"/> counts the faults that struck.
/// </summary>
public sealed record FaultSettings
{
    /// <summary>Added to every /api2 request before it is handled.</summary>
    public int LatencyMs { get; init; }

    /// <summary>Extra random latency, uniform in [0, LatencyJitterMs].</summary>
    public int LatencyJitterMs { get; init; }

    /// <summary>Fraction of /api2 requests answered with <see cref="ServerErrorStatus"/> without being handled.</summary>
    public double ServerErrorRate { get; init; }

    public int ServerErrorStatus { get; init; } = 500;

    public string ServerErrorMessage { get; init; } = "proxy handler failed: got timeout";

    /// <summary>Every Nth /api2 request (matching <see cref="PathPattern"/>) is answered with <see cref="ServerErrorStatus"/>; 0 = off.</summary>
    public int ServerErrorEvery { get; init; }

    /// <summary>At most this many server errors from <see cref="ServerErrorEvery"/>; null = no limit.</summary>
    public int? ServerErrorLimit { get; init; }

    /// <summary>Fraction of /api2 requests whose connection is dropped without an answer.</summary>
    public double DropConnectionRate { get; init; }

    /// <summary>Fraction of guest config lock attempts that fail with "can't lock file ... - got timeout".</summary>
    public double LockContentionRate { get; init; }

    /// <summary>Every Nth guest config lock attempt times out; 0 = off.</summary>
    public int LockContentionEvery { get; init; }

    /// <summary>At most this many lock timeouts from <see cref="LockContentionEvery"/>; null = no limit.</summary>
    public int? LockContentionLimit { get; init; }

    /// <summary>Fraction of tasks that end in "TASK ERROR: <see cref="TaskFailureMessage"/>".</summary>
    public double TaskFailureRate { get; init; }

    public string TaskFailureMessage { get; init; } = "command failed: simulated fault";

    /// <summary>If set, request faults apply only to relative API paths matching this regex (e.g. "/clone$").</summary>
    public string? PathPattern { get; init; }

    /// <summary>If set, request faults apply only to requests of this HTTP method (e.g. "PUT": a config change, not its read).</summary>
    public string? Method { get; init; }

    public static FaultSettings None { get; } = new();
}

/// <summary>How many faults of each kind struck since the emulator started (rates and schedules alike).</summary>
public sealed record FaultCounts(int ServerErrors, int DroppedConnections, int LockContentions, int TaskFailures);

/// <summary>Decides, per request or task, whether a configured fault strikes, and counts those that did.</summary>
public sealed class FaultInjector
{
    private readonly Lock _sync = new();
    private readonly Random _random;
    private FaultSettings _settings = FaultSettings.None;
    private Regex? _pathFilter;
    private Schedule _serverErrors = new(0, null);
    private Schedule _lockContentions = new(0, null);
    private int _firedServerErrors;
    private int _firedDrops;
    private int _firedLocks;
    private int _firedTasks;

    internal FaultInjector(int? seed) => _random = seed is { } s ? new Random(s) : new Random();

    public FaultSettings Settings
    {
        get
        {
            lock (_sync)
            {
                return _settings;
            }
        }

        set
        {
            ArgumentNullException.ThrowIfNull(value);
            var filter = value.PathPattern is { Length: > 0 } p ? new Regex(p, RegexOptions.CultureInvariant) : null;
            lock (_sync)
            {
                _settings = value;
                _pathFilter = filter;
                _serverErrors = new Schedule(value.ServerErrorEvery, value.ServerErrorLimit);
                _lockContentions = new Schedule(value.LockContentionEvery, value.LockContentionLimit);
            }
        }
    }

    /// <summary>The faults that struck since the emulator started; <see cref="Reset"/> does not clear them.</summary>
    public FaultCounts Fired
    {
        get
        {
            lock (_sync)
            {
                return new FaultCounts(_firedServerErrors, _firedDrops, _firedLocks, _firedTasks);
            }
        }
    }

    public void Reset() => Settings = FaultSettings.None;

    internal TimeSpan Latency(string method, string relPath)
    {
        lock (_sync)
        {
            if (!Applies(method, relPath) || (_settings.LatencyMs <= 0 && _settings.LatencyJitterMs <= 0))
            {
                return TimeSpan.Zero;
            }

            return TimeSpan.FromMilliseconds(_settings.LatencyMs + (_settings.LatencyJitterMs > 0 ? _random.Next(_settings.LatencyJitterMs + 1) : 0));
        }
    }

    internal bool DropConnection(string method, string relPath)
    {
        lock (_sync)
        {
            return Count(Strikes(_settings.DropConnectionRate, method, relPath), ref _firedDrops);
        }
    }

    internal bool ServerError(string method, string relPath)
    {
        lock (_sync)
        {
            // The schedule counts only the requests a fault may hit; the random draw is made either way, so adding a
            // schedule does not change which requests a seeded rate picks.
            var random = Strikes(_settings.ServerErrorRate, method, relPath);
            var scheduled = Applies(method, relPath) && _serverErrors.Next();
            return Count(random || scheduled, ref _firedServerErrors);
        }
    }

    internal bool LockContention()
    {
        lock (_sync)
        {
            var random = Strikes(_settings.LockContentionRate, null, null);
            var scheduled = _lockContentions.Next();
            return Count(random || scheduled, ref _firedLocks);
        }
    }

    internal bool TaskFailure()
    {
        lock (_sync)
        {
            return Count(Strikes(_settings.TaskFailureRate, null, null), ref _firedTasks);
        }
    }

    private static bool Count(bool struck, ref int fired)
    {
        if (struck)
        {
            fired++;
        }

        return struck;
    }

    // Caller holds _sync.
    private bool Strikes(double rate, string? method, string? relPath) =>
        rate > 0 && (relPath is null || Applies(method!, relPath)) && _random.NextDouble() < rate;

    private bool Applies(string method, string relPath) =>
        (_pathFilter is null || _pathFilter.IsMatch(relPath))
        && (_settings.Method is not { Length: > 0 } only || string.Equals(only, method, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every Nth occasion strikes, at most Limit times. Not thread-safe: used under the injector's lock.</summary>
    private sealed class Schedule(int every, int? limit)
    {
        private int _seen;
        private int _struck;

        public bool Next()
        {
            if (every <= 0 || _struck >= limit)
            {
                return false;
            }

            if (++_seen % every != 0)
            {
                return false;
            }

            _struck++;
            return true;
        }
    }
}
