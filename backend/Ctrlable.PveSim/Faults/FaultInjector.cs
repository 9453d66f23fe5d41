using System.Text.RegularExpressions;

namespace Ctrlable.PveSim.Faults;

/// <summary>
/// Runtime-switchable faults. All off by default. Rates are fractions 0..1 of the affected requests or tasks.
/// Set through <see cref="FaultInjector.Settings"/> in-process or <c>PUT /_sim/faults</c> (same JSON shape).
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

    /// <summary>Fraction of /api2 requests whose connection is dropped without an answer.</summary>
    public double DropConnectionRate { get; init; }

    /// <summary>Fraction of guest config lock attempts that fail with "can't lock file ... - got timeout".</summary>
    public double LockContentionRate { get; init; }

    /// <summary>Fraction of tasks that end in "TASK ERROR: <see cref="TaskFailureMessage"/>".</summary>
    public double TaskFailureRate { get; init; }

    public string TaskFailureMessage { get; init; } = "command failed: simulated fault";

    /// <summary>If set, request faults apply only to relative API paths matching this regex (e.g. "/clone$").</summary>
    public string? PathPattern { get; init; }

    /// <summary>If set, request faults apply only to requests of this HTTP method (e.g. "PUT": a config change, not its read).</summary>
    public string? Method { get; init; }

    public static FaultSettings None { get; } = new();
}

/// <summary>Decides, per request or task, whether a configured fault strikes.</summary>
public sealed class FaultInjector
{
    private readonly Lock _sync = new();
    private readonly Random _random;
    private FaultSettings _settings = FaultSettings.None;
    private Regex? _pathFilter;

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

    internal bool DropConnection(string method, string relPath) => Strikes(s => s.DropConnectionRate, method, relPath);

    internal bool ServerError(string method, string relPath) => Strikes(s => s.ServerErrorRate, method, relPath);

    internal bool LockContention() => Strikes(s => s.LockContentionRate, null, null);

    internal bool TaskFailure() => Strikes(s => s.TaskFailureRate, null, null);

    private bool Strikes(Func<FaultSettings, double> rate, string? method, string? relPath)
    {
        lock (_sync)
        {
            var r = rate(_settings);
            return r > 0 && (relPath is null || Applies(method!, relPath)) && _random.NextDouble() < r;
        }
    }

    private bool Applies(string method, string relPath) =>
        (_pathFilter is null || _pathFilter.IsMatch(relPath))
        && (_settings.Method is not { Length: > 0 } only || string.Equals(only, method, StringComparison.OrdinalIgnoreCase));
}
