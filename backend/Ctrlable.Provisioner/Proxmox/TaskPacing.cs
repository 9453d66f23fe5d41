using System.Collections.Concurrent;

namespace Ctrlable.Provisioner.Proxmox;

/// <summary>
/// When to look at a running task next, from how long it has run and what its type took before. Unknown type: soon,
/// then a quarter of its age (a task is at most about a quarter late). Known type: at its earliest expected end (a long
/// type also half-way there), then <see cref="WindowLooks"/> looks spread over the window in which earlier tasks of the
/// type ended (mean ± twice the deviation; at least <see cref="WindowStep"/> apart), then a quarter of its age again
/// (it runs longer than any before). A task others wait for (<c>awaited</c>) is looked at every <see cref="FinePoll"/>
/// across its window instead: each look there ends the wait of the ones behind it sooner. Never closer than <see cref="FinePoll"/>,
/// never further apart than <see cref="MaxPoll"/>.
/// </summary>
public static class TaskPacing
{
    public static readonly TimeSpan FinePoll = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan FirstPoll = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(30);
    public const int WindowLooks = 8;

    /// <summary>Looks across the window are at least this far apart (a narrow window gets fewer than <see cref="WindowLooks"/>).</summary>
    public static readonly TimeSpan WindowStep = TimeSpan.FromMilliseconds(50);

    /// <summary>A type whose earliest expected end is at least this far gets a look half-way there.</summary>
    public static readonly TimeSpan LongTask = TimeSpan.FromSeconds(2);

    /// <summary>The elapsed time (since the wait began) of the next look, given the last look that saw it running.</summary>
    public static TimeSpan NextCheck(TimeSpan seenRunning, TaskDuration? expected, bool awaited = false)
    {
        var t = seenRunning.TotalSeconds;
        double next;
        if (expected is null)
        {
            next = t == 0 ? FirstPoll.TotalSeconds : t + (t / 4);
        }
        else
        {
            var spread = 2 * expected.Deviation.TotalSeconds;
            var lo = Math.Max(0, expected.Mean.TotalSeconds - spread);
            var hi = expected.Mean.TotalSeconds + spread + FinePoll.TotalSeconds;
            var step = awaited ? FinePoll.TotalSeconds : Math.Max(WindowStep.TotalSeconds, (hi - lo) / WindowLooks);
            // A long task gets one look half-way to its window (an early failure is not missed by much). Seen running
            // within a step of its window (by a look another waiter asked for), it joins that look's rhythm.
            next = t < lo / 2 && lo >= LongTask.TotalSeconds ? lo / 2
                : t < lo - step ? lo
                : t < hi ? t + step
                : t + (t / 4);
        }

        return TimeSpan.FromSeconds(Math.Clamp(next, t + FinePoll.TotalSeconds, t + MaxPoll.TotalSeconds));
    }
}

/// <summary>What tasks of one type took: a moving mean and mean absolute deviation.</summary>
public sealed record TaskDuration(TimeSpan Mean, TimeSpan Deviation, int Samples);

/// <summary>Learned task durations per task type (vzclone, vzstart, …), in memory.</summary>
public sealed class TaskDurations
{
    private const double Weight = 0.3;
    private readonly ConcurrentDictionary<string, TaskDuration> _byType = new(StringComparer.Ordinal);

    public TaskDuration? Expected(string type) => _byType.GetValueOrDefault(type);

    public void Learn(string type, TimeSpan took)
    {
        if (type.Length == 0)
        {
            return;
        }

        _byType.AddOrUpdate(type,
            // One sample says little about the spread: assume a quarter of it.
            _ => new TaskDuration(took, took / 4, 1),
            (_, d) => new TaskDuration(
                (d.Mean * (1 - Weight)) + (took * Weight),
                (d.Deviation * (1 - Weight)) + ((took - d.Mean).Duration() * Weight),
                d.Samples + 1));
    }
}
