using System.Collections.Concurrent;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Tasks;

/// <summary>
/// Runs emulated worker tasks in the background and keeps every task (running and finished) for the
/// tasks API and for <see cref="Records"/>, the benchmark's task log.
/// </summary>
public sealed class TaskManager
{
    private readonly SimClock _clock;
    private readonly Func<bool> _injectFailure;
    private readonly Func<string> _failureMessage;
    private readonly ConcurrentDictionary<string, SimTask> _byUpid = new(StringComparer.Ordinal);
    private readonly List<SimTask> _ordered = [];
    private readonly Lock _sync = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly List<Exception> _internalErrors = [];
    private int _nextPid = 0x000A1F00;

    internal TaskManager(SimClock clock, Func<bool> injectFailure, Func<string> failureMessage)
    {
        _clock = clock;
        _injectFailure = injectFailure;
        _failureMessage = failureMessage;
    }

    /// <summary>Every task so far, oldest first.</summary>
    public IReadOnlyList<TaskRecord> Records
    {
        get
        {
            lock (_sync)
            {
                return _ordered.Select(t => t.Record).ToList();
            }
        }
    }

    public IReadOnlyList<SimTask> All
    {
        get
        {
            lock (_sync)
            {
                return [.. _ordered];
            }
        }
    }

    /// <summary>Unexpected exceptions in task workers (emulator bugs); should stay empty.</summary>
    public IReadOnlyList<Exception> InternalErrors
    {
        get
        {
            lock (_sync)
            {
                return [.. _internalErrors];
            }
        }
    }

    internal void RecordInternalError(Exception e)
    {
        lock (_sync)
        {
            _internalErrors.Add(e);
        }
    }

    public SimTask? Find(string upid) => _byUpid.GetValueOrDefault(upid);

    /// <summary>
    /// A test's hook, awaited before each task's work begins: a task stays running until the returned task completes
    /// (e.g. a start held while a test restarts its client). Null: no hold.
    /// </summary>
    public Func<SimTask, Task>? Gate { get; set; }

    /// <summary>Waits for a task to stop and returns its record.</summary>
    public Task<TaskRecord> WaitAsync(string upid, CancellationToken cancellationToken = default) =>
        (Find(upid) ?? throw new ArgumentException($"no such task '{upid}'", nameof(upid))).Completion.WaitAsync(cancellationToken);

    /// <summary>
    /// Starts a worker. <paramref name="work"/> logs through the task and throws
    /// <see cref="TaskFailedException"/> to end with "TASK ERROR". <paramref name="onFailure"/> undoes
    /// what the worker set up (e.g. a half-made clone) when it fails.
    /// </summary>
    public SimTask Start(
        string node,
        string type,
        string id,
        string user,
        TimeSpan nominalDuration,
        Func<SimTask, CancellationToken, Task> work,
        Action<string>? onFailure = null)
    {
        var now = _clock.Now;
        var upid = new Upid(node, Interlocked.Increment(ref _nextPid), 0x0BEEF000 + (now.ToUnixTimeMilliseconds() % 0xFFFFF), now.ToUnixTimeSeconds(), type, id, user);
        var task = new SimTask(upid, now, nominalDuration) { InjectedFailure = _injectFailure() ? _failureMessage() : null };
        lock (_sync)
        {
            _ordered.Add(task);
        }

        _byUpid[upid.ToString()] = task;
        _ = Task.Run(() => RunAsync(task, work, onFailure));
        return task;
    }

    internal void Shutdown() => _shutdown.Cancel();

    /// <summary>
    /// What a node's reboot does to its tasks: every task running on <paramref name="node"/> dies without writing its
    /// end, so Proxmox reads its status from a log with no "TASK OK"/"TASK ERROR" line: "unexpected status".
    /// Returns how many were running.
    /// </summary>
    public int KillRunning(string node)
    {
        var running = All.Where(t => t.Upid.Node == node && t.Running).ToList();
        foreach (var task in running)
        {
            task.Kill();
        }

        return running.Count;
    }

    private async Task RunAsync(SimTask task, Func<SimTask, CancellationToken, Task> work, Action<string>? onFailure)
    {
        string? error;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token, task.Killed);
        try
        {
            if (Gate is { } gate)
            {
                await gate(task).WaitAsync(stop.Token).ConfigureAwait(false);
            }

            await work(task, stop.Token).ConfigureAwait(false);
            error = null;
        }
        catch (OperationCanceledException) when (task.Killed.IsCancellationRequested)
        {
            // Killed with its node (KillRunning): no end is written, nothing is undone.
            task.FinishKilled(_clock.Now);
            return;
        }
        catch (TaskFailedException e)
        {
            error = e.Message;
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            error = "interrupted by signal";
        }
        catch (Api.PveException e)
        {
            // The worker re-ran a check that the API call also makes (a lock, a template flag).
            error = e.Message;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An emulator bug: end the task visibly and keep the exception for tests to assert on.
            lock (_sync)
            {
                _internalErrors.Add(e);
            }

            error = $"PveSim internal error: {e.Message}";
        }

        if (error is not null)
        {
            onFailure?.Invoke(error);
        }

        task.Finish(_clock.Now, error);
    }
}
