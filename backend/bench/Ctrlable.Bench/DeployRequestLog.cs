using System.Diagnostics;
using System.Globalization;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.Bench;

/// <summary>
/// What a measured deploy asked of the emulator: requests to the task endpoints (list, status, log) while on, and with
/// <c>BENCH_TRACE_TASKS=1</c> every request's time since <see cref="Start"/>, method and path, then the task log, on
/// standard error (tuning the watcher's pacing and finding where the click path waits).
/// </summary>
internal sealed class DeployRequestLog
{
    private readonly Stopwatch _clock = new();
    private long _taskRequests;
    private int _on;

    public DeployRequestLog(PveSimulator sim) => sim.Intercept = (call, handle) =>
    {
        if (Volatile.Read(ref _on) == 1)
        {
            if (call.Path.Contains("/tasks", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _taskRequests);
            }

            if (Trace)
            {
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds:0.000} {call.Method} {call.Path}{call.Query}"));
            }
        }

        return handle();
    };

    public bool Trace { get; } = Environment.GetEnvironmentVariable("BENCH_TRACE_TASKS") == "1";

    public long TaskRequests => Interlocked.Read(ref _taskRequests);

    public void Start()
    {
        _clock.Restart();
        Volatile.Write(ref _on, 1);
    }

    public void Stop() => Volatile.Write(ref _on, 0);

    /// <summary>With tracing on: each task of the measured deploy, its node and its run (seconds since <paramref name="from"/>).</summary>
    public void WriteTasks(IEnumerable<TaskRecord> measured, DateTimeOffset from)
    {
        if (!Trace)
        {
            return;
        }

        foreach (var t in measured)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"task {t.Type} {t.Id} {t.Node} {(t.Started - from).TotalSeconds:0.000}–{((t.Ended ?? t.Started) - from).TotalSeconds:0.000}"));
        }
    }
}
