namespace Ctrlable.PveSim.Tasks;

/// <summary>A task's lifecycle record for benchmarks: what ran where, from when to when, and how it ended.</summary>
public sealed record TaskRecord(
    string Upid,
    string Node,
    string Type,
    string Id,
    string User,
    DateTimeOffset Started,
    DateTimeOffset? Ended,
    string? ExitStatus,
    TimeSpan NominalDuration)
{
    public bool Succeeded => ExitStatus is not null && (ExitStatus == "OK" || ExitStatus.StartsWith("WARNINGS: ", StringComparison.Ordinal));
}

/// <summary>A running or finished worker task with its log.</summary>
public sealed class SimTask
{
    private readonly Lock _sync = new();
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource<TaskRecord> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal SimTask(Upid upid, DateTimeOffset started, TimeSpan nominalDuration)
    {
        Upid = upid;
        Started = started;
        NominalDuration = nominalDuration;
    }

    public Upid Upid { get; }

    public DateTimeOffset Started { get; }

    public DateTimeOffset? Ended { get; private set; }

    public TimeSpan NominalDuration { get; internal set; }

    /// <summary>null while running; "OK", "WARNINGS: n" or the error text once stopped.</summary>
    public string? ExitStatus { get; private set; }

    public bool Running => ExitStatus is null;

    /// <summary>Set when fault injection decided this task fails; workers check it before committing.</summary>
    internal string? InjectedFailure { get; init; }

    public Task<TaskRecord> Completion => _done.Task;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_sync)
            {
                return [.. _lines];
            }
        }
    }

    public TaskRecord Record => new(Upid.ToString(), Upid.Node, Upid.Type, Upid.Id, Upid.User, Started, Ended, ExitStatus, NominalDuration);

    /// <summary>Called by a worker right before it commits its effect: an injected fault fails it here.</summary>
    public void FailIfInjected()
    {
        if (InjectedFailure is not null)
        {
            throw new TaskFailedException(InjectedFailure);
        }
    }

    public void Log(string line)
    {
        lock (_sync)
        {
            _lines.AddRange(line.TrimEnd('\n').Split('\n'));
        }
    }

    private readonly CancellationTokenSource _kill = new();

    /// <summary>Cancelled when the task's node "reboots" (<see cref="TaskManager.KillRunning"/>).</summary>
    internal CancellationToken Killed => _kill.Token;

    internal void Kill() => _kill.Cancel();

    /// <summary>The worker died without writing its end: upid_read_status finds no "TASK ..." line.</summary>
    internal void FinishKilled(DateTimeOffset ended)
    {
        lock (_sync)
        {
            Ended = ended;
            ExitStatus = "unexpected status";
        }

        _done.TrySetResult(Record);
    }

    internal void Finish(DateTimeOffset ended, string? error)
    {
        lock (_sync)
        {
            // fork_worker joins multi-line errors into one line for the status.
            var status = error is null ? "OK" : string.Join(' ', error.Trim().Split('\n'));
            _lines.Add(error is null ? "TASK OK" : $"TASK ERROR: {status}");
            Ended = ended;
            ExitStatus = status;
        }

        _done.TrySetResult(Record);
    }
}

/// <summary>The failure of a task worker (a Perl <c>die</c> inside fork_worker).</summary>
public sealed class TaskFailedException(string message) : Exception(message);
