using System.Collections.Concurrent;

namespace Ctrlable.Provisioner.Proxmox;

public sealed record TaskOutcome(string Upid, bool Succeeded, string ExitStatus, IReadOnlyList<string> LogTail)
{
    /// <summary>One line for a user: the exit status, and the last log line when it says more.</summary>
    public string Describe() =>
        Succeeded ? "OK" : LogTail.LastOrDefault(l => l.StartsWith("TASK ERROR:", StringComparison.Ordinal)) ?? ExitStatus;
}

/// <summary>
/// Waits for Proxmox tasks (UPIDs) politely. One watcher per node looks at the node's tasks since the oldest one waited
/// on (<c>GET /nodes/{node}/tasks?source=all&amp;since=</c>) once per interval for every UPID waited on, and wakes each
/// waiter whose task is listed as ended with its exit status (no status read of its own); a waiter whose task is not
/// listed at all reads its status once. With a single task to watch the watcher reads that task's status instead (one
/// request either way).
/// The interval follows what the waiters need (<see cref="TaskPacing"/>): each task type's duration is learned from
/// earlier tasks of that type (kept in memory: a restart relearns from its first task), so a task is looked at
/// sparsely until shortly before it is expected to end and finely around that time; a task known to be long is not
/// polled faster than needed, unless it is awaited (<c>awaited</c>: a template's clones in a queue, whose ends gate the
/// next clone or end the chain), when it is looked at every <see cref="TaskPacing.FinePoll"/> across that window. <c>/cluster/tasks</c> is not used: it hides a token's own tasks from a token without
/// Sys.Audit on "/" (pve-manager's Cluster.pm compares the split user name with the token id).
/// A task whose UPID the node does not know (yet, or any more) is looked for again until the caller's timeout; a node
/// that does not answer (a restart) is asked again with a growing pause, its waiters keep waiting until their
/// timeouts, and a task that a restart ended reads as stopped with Proxmox's "unexpected status".
/// </summary>
public sealed class ProxmoxTasks(ProxmoxClient client, TimeProvider time, ILogger<ProxmoxTasks> logger)
{
    private const int LogTailLines = 20;

    private readonly ConcurrentDictionary<string, NodeWatcher> _watchers = new(StringComparer.Ordinal);
    private readonly ProxmoxClient _client = client;
    private readonly TimeProvider _time = time;
    private readonly ILogger<ProxmoxTasks> _logger = logger;

    /// <summary>What each task type took so far (in memory).</summary>
    public TaskDurations Durations { get; } = new();

    /// <summary>
    /// Waits for the task to end. <paramref name="awaited"/>, asked at every look, tells whether others wait for this one
    /// to end (say so with <see cref="Replan"/> when it turns true): its end is then looked for finely.
    /// </summary>
    public async Task<TaskOutcome> WaitAsync(string node, string upid, TimeSpan timeout, CancellationToken ct, Func<bool>? awaited = null)
    {
        using var timer = new CancellationTokenSource(timeout, _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct, timer.Token);
        var waiter = new Waiter(upid, TypeOf(upid), StartTimeOf(upid), _time.GetTimestamp(), awaited);
        var watcher = _watchers.GetOrAdd(node, n => new NodeWatcher(n, this));
        try
        {
            while (true)
            {
                var status = await watcher.WaitUntilNotRunningAsync(waiter, deadline.Token)
                    ?? await TryGetStatusAsync(node, upid, deadline.Token);
                if (status is { IsRunning: false })
                {
                    Durations.Learn(waiter.Type, waiter.EstimatedDuration(_time));
                    var exit = status.Exitstatus ?? "unexpected status";
                    if (status.Succeeded)
                    {
                        return new TaskOutcome(upid, true, exit, []);
                    }

                    return new TaskOutcome(upid, false, exit, await LogTailAsync(node, upid, deadline.Token));
                }

                // Still running (the list was a moment behind) or not visible yet: back to the watcher.
                waiter.SeenRunning(_time.GetTimestamp());
            }
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new TimeoutException($"Proxmox task {upid} did not finish within {timeout.TotalSeconds:0} s.");
        }
    }

    /// <summary>A task waited on at <paramref name="node"/> became awaited: its watcher plans its next look again.</summary>
    public void Replan(string node)
    {
        if (_watchers.TryGetValue(node, out var watcher))
        {
            watcher.Replan();
        }
    }

    /// <summary>The node a task runs on, from its UPID; null when it does not parse.</summary>
    public static string? NodeOf(string upid) => UpidField(upid, 1);

    /// <summary>Field <paramref name="index"/> of <c>UPID:node:pid:pstart:starttime:type:id:user:</c>; null when it does not parse.</summary>
    private static string? UpidField(string upid, int index)
    {
        var parts = upid.Split(':');
        return parts.Length >= 8 && parts[0] == "UPID" ? parts[index] : null;
    }

    /// <summary>The UPID's task type (<c>UPID:node:pid:pstart:starttime:type:id:user:</c>); "" when it does not parse.</summary>
    internal static string TypeOf(string upid) => UpidField(upid, 5) ?? "";

    /// <summary>The UPID's start time (Unix seconds, the fifth field in hex); null when it does not parse.</summary>
    internal static long? StartTimeOf(string upid) =>
        long.TryParse(UpidField(upid, 4), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var start) ? start : null;

    /// <summary>An ended task as the node's list shows it: its status is the exit status (OK, WARNINGS: n, the error).</summary>
    private static TaskStatus? EndedStatus(TaskListEntry entry, string node) =>
        entry is { Endtime: not null, Status: { } exit } ? new TaskStatus(entry.Upid, node, "stopped", exit, entry.Type, entry.Id ?? "", "", 0) : null;

    private async Task<TaskStatus?> TryGetStatusAsync(string node, string upid, CancellationToken ct)
    {
        try
        {
            return await _client.GetTaskStatusAsync(node, upid, ct);
        }
        catch (ProxmoxException ex) when (ex.Status == System.Net.HttpStatusCode.BadRequest && ex.Errors.ContainsKey("upid"))
        {
            // A task may not be visible for a moment right after it was started ("no such task").
            return null;
        }
    }

    private async Task<IReadOnlyList<string>> LogTailAsync(string node, string upid, CancellationToken ct)
    {
        // Proxmox pages the log; ask for a large window and keep the end.
        var lines = await _client.GetTaskLogAsync(node, upid, 0, 5000, ct);
        return [.. lines.Skip(Math.Max(0, lines.Count - LogTailLines)).Select(l => l.T)];
    }

    /// <summary>A node's answer failed in a way a restart or a network hiccup explains: ask again later.</summary>
    private static bool IsTransient(Exception e) =>
        e is HttpRequestException or TimeoutException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException
        || (e is ProxmoxException p && (int)p.Status >= 500);

    /// <summary>One waited-on task: when it was first waited for and when it was last seen running.</summary>
    private sealed class Waiter(string upid, string type, long? startTime, long registered, Func<bool>? awaited)
    {
        public string Upid { get; } = upid;
        public string Type { get; } = type;

        /// <summary>The task's start (Unix seconds) from its UPID; null when the UPID does not parse.</summary>
        public long? StartTime { get; } = startTime;
        public long Registered { get; } = registered;
        public long LastSeenRunning { get; private set; } = registered;
        public TaskCompletionSource<TaskStatus?>? Released { get; set; }

        /// <summary>When this waiter next needs a look, as a timestamp.</summary>
        public long NextCheck(TimeProvider time, TaskDurations durations)
        {
            var seen = time.GetElapsedTime(Registered, LastSeenRunning);
            var next = TaskPacing.NextCheck(seen, durations.Expected(Type), awaited?.Invoke() == true);
            return Registered + (long)(next.TotalSeconds * time.TimestampFrequency);
        }

        public void SeenRunning(long at) => LastSeenRunning = Math.Max(LastSeenRunning, at);

        /// <summary>Half-way between the last look that saw it running and the one that saw it ended.</summary>
        public TimeSpan EstimatedDuration(TimeProvider time) =>
            (time.GetElapsedTime(Registered, LastSeenRunning) + time.GetElapsedTime(Registered)) / 2;
    }

    /// <summary>The one poller of a node's tasks; runs while anyone waits on a task of that node.</summary>
    private sealed class NodeWatcher(string node, ProxmoxTasks owner)
    {
        private static readonly TimeSpan MaxErrorPause = TimeSpan.FromSeconds(30);
        private readonly Lock _sync = new();
        private readonly List<Waiter> _waiters = [];
        private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _running;
        private long _notBefore;
        private int _failures;

        /// <summary>Plans the next look again (a waiter may need it sooner now).</summary>
        public void Replan()
        {
            lock (_sync)
            {
                _wake.TrySetResult();
            }
        }

        public async Task<TaskStatus?> WaitUntilNotRunningAsync(Waiter waiter, CancellationToken ct)
        {
            var released = waiter.Released = new TaskCompletionSource<TaskStatus?>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_sync)
            {
                _waiters.Add(waiter);
                if (!_running)
                {
                    _running = true;
                    _ = Task.Run(LoopAsync, CancellationToken.None);
                }
                else
                {
                    // It may need a look sooner than the watcher planned.
                    _wake.TrySetResult();
                }
            }

            using (ct.Register(() =>
            {
                lock (_sync)
                {
                    _waiters.Remove(waiter);
                }

                released.TrySetCanceled(ct);
            }))
            {
                return await released.Task;
            }
        }

        private async Task LoopAsync()
        {
            var time = owner._time;
            while (true)
            {
                Waiter[] looked;
                Task wake;
                TimeSpan pause;
                lock (_sync)
                {
                    if (_waiters.Count == 0)
                    {
                        _running = false;
                        return;
                    }

                    var due = Math.Max(_notBefore, _waiters.Min(w => w.NextCheck(time, owner.Durations)));
                    pause = time.GetElapsedTime(time.GetTimestamp(), due);
                    _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wake = _wake.Task;
                    looked = [.. _waiters];
                }

                if (pause > TimeSpan.Zero)
                {
                    // A new waiter may need an earlier look: plan again when one comes.
                    await Task.WhenAny(Task.Delay(pause, time), wake);
                    continue;
                }

                await LookAsync(looked);
            }
        }

        private async Task LookAsync(Waiter[] looked)
        {
            var time = owner._time;
            var at = time.GetTimestamp();
            try
            {
                if (looked.Length == 1)
                {
                    // One task: its status is one request as the list is, and carries the exit status.
                    var status = await owner.TryGetStatusAsync(node, looked[0].Upid, CancellationToken.None);
                    Settle(looked, at, status is { IsRunning: false } ? _ => (true, status) : _ => (false, null));
                }
                else
                {
                    // Every task waited on, running or ended, in one list: an ended one's exit status comes with it. One not
                    // listed (not visible yet, or gone) is released without a status: its waiter reads the status itself.
                    var since = looked.Any(w => w.StartTime is null) ? 0 : looked.Min(w => w.StartTime!.Value);
                    var listed = new Dictionary<string, TaskListEntry>(StringComparer.Ordinal);
                    foreach (var entry in await owner._client.GetTasksSinceAsync(node, since, CancellationToken.None))
                    {
                        listed.TryAdd(entry.Upid, entry);
                    }

                    Settle(looked, at, w => !listed.TryGetValue(w.Upid, out var entry) ? (true, null)
                        : entry.IsRunning ? (false, null)
                        : (true, EndedStatus(entry, node)));
                }

                if (_failures > 0)
                {
                    owner._logger.LogInformation("Proxmox node {Node} answers again; waiting on its tasks continues.", node);
                }

                _failures = 0;
                _notBefore = at + (long)(TaskPacing.FinePoll.TotalSeconds * time.TimestampFrequency);
            }
            catch (Exception e) when (IsTransient(e))
            {
                // A node restarting, or the network: its waiters keep waiting (until their own timeouts); ask again later.
                _failures++;
                if (_failures == 1)
                {
                    owner._logger.LogWarning("Proxmox node {Node} did not answer its task list ({Error}); asking again.", node, e.Message);
                }

                var pause = TimeSpan.FromSeconds(Math.Min(MaxErrorPause.TotalSeconds, Math.Pow(2, _failures - 1)));
                _notBefore = time.GetTimestamp() + (long)(pause.TotalSeconds * time.TimestampFrequency);
            }
            catch (Exception e)
            {
                // Refused (e.g. the token lost its rights): every waiter of this look fails as its own poll would have.
                lock (_sync)
                {
                    foreach (var w in looked)
                    {
                        _waiters.Remove(w);
                        w.Released?.TrySetException(e);
                    }
                }
            }
        }

        private void Settle(Waiter[] looked, long at, Func<Waiter, (bool Ended, TaskStatus? Status)> verdict)
        {
            lock (_sync)
            {
                foreach (var w in looked)
                {
                    if (!_waiters.Contains(w))
                    {
                        continue;
                    }

                    var (ended, status) = verdict(w);
                    if (ended)
                    {
                        _waiters.Remove(w);
                        w.Released?.TrySetResult(status);
                    }
                    else
                    {
                        w.SeenRunning(at);
                    }
                }
            }
        }
    }
}
