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

    public DeployRequestLog(PveSimulator sim) => sim.Intercept = async (call, handle) =>
    {
        if (Volatile.Read(ref _on) != 1)
        {
            await handle();
            return;
        }

        if (call.Path.Contains("/tasks", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _taskRequests);
        }

        var arrived = _clock.Elapsed.TotalSeconds;
        await handle();
        if (Trace)
        {
            // When the request reached the emulator and how long the emulator took to answer it.
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{arrived:0.000} {call.Method} {call.Path}{call.Query} ({(_clock.Elapsed.TotalSeconds - arrived) * 1000:0} ms)"));
        }
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
