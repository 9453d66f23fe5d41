using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Faults;

namespace Ctrlable.Provisioner.Tests.Proxmox;

/// <summary>
/// The shared task watcher (<see cref="ProxmoxTasks"/>): one look at a node's tasks serves every waiter of the node (and
/// brings the exit status of those that ended), each task is looked at by its type's learned duration, and lost UPIDs and
/// a node restart are still handled.
/// Counted, never timed.
/// </summary>
public sealed class ProxmoxTaskWatcherTests
{
    private static readonly TimeSpan TaskTimeout = TimeSpan.FromSeconds(60);

    private static List<RecordedRequest> TaskRequests(ProxmoxHarness pve) =>
        [.. pve.Recorder.Requests.Where(r => r.Path.Contains("/tasks", StringComparison.Ordinal))];

    private static bool IsListLook(RecordedRequest r) => r.Path.EndsWith("/tasks", StringComparison.Ordinal) && r.Query.Contains("source=all", StringComparison.Ordinal)
        && r.Query.Contains("since=", StringComparison.Ordinal);

    /// <summary>Five QEMU clones held running by the emulator until released; their UPIDs.</summary>
    private static async Task<List<string>> HeldClonesAsync(ProxmoxHarness pve, Task release, int count)
    {
        pve.Sim.Tasks.Gate = task => task.Upid.Type == "qmclone" ? release : Task.CompletedTask;
        var upids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            upids.Add(await pve.Client.CloneAsync("pve1", GuestKind.Qemu, ProxmoxHarness.QemuTemplate, new CloneRequest(310 + i, $"vm{i}", Pool: "ctrlable", Full: true), CancellationToken.None));
        }

        return upids;
    }

    [Fact]
    public async Task Concurrent_waits_on_one_node_share_one_look_at_its_tasks_which_brings_their_exit_statuses()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upids = await HeldClonesAsync(pve, release.Task, 5);

        var waits = upids.Select(u => pve.Tasks.WaitAsync("pve1", u, TaskTimeout, CancellationToken.None)).ToList();
        await Eventually.TrueAsync(() => TaskRequests(pve).Count >= 8, "eight looks at the running tasks");
        var whileRunning = TaskRequests(pve);
        release.SetResult();
        var outcomes = await Task.WhenAll(waits);

        // One request per look for all five (a per-task poll would have sent five status reads per look)...
        whileRunning.Should().OnlyContain(r => IsListLook(r), "while the five run, each look is one list of the node's running tasks");
        outcomes.Should().OnlyContain(o => o.Succeeded);
        // ...and once they ended, the look that saw them ended brought their exit statuses: no status read of their own.
        TaskRequests(pve).Should().OnlyContain(r => IsListLook(r));
        outcomes.Should().OnlyContain(o => o.ExitStatus == "OK");
    }

    [Fact]
    public async Task A_failed_task_among_others_gets_its_log_tail_and_the_others_succeed()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upids = await HeldClonesAsync(pve, release.Task, 2);
        var ok = pve.Tasks.WaitAsync("pve1", upids[0], TaskTimeout, CancellationToken.None);
        var failing = pve.Tasks.WaitAsync("pve1", upids[1], TaskTimeout, CancellationToken.None);
        await Eventually.TrueAsync(() => TaskRequests(pve).Any(IsListLook), "a look at the running tasks");

        pve.Sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = "clone failed: disk full" };
        (await pve.Client.CloneAsync("pve1", GuestKind.Qemu, ProxmoxHarness.QemuTemplate, new CloneRequest(320, "vmx", Pool: "ctrlable", Full: true), CancellationToken.None))
            .Should().NotBeNull();
        release.SetResult();
        var failed = await pve.Tasks.WaitAsync("pve1", pve.Sim.TaskLog.Last(t => t.Type == "qmclone").Upid, TaskTimeout, CancellationToken.None);

        (await ok).Succeeded.Should().BeTrue();
        (await failing).Succeeded.Should().BeTrue();
        failed.Succeeded.Should().BeFalse();
        failed.Describe().Should().Contain("disk full");
    }

    [Fact]
    public async Task A_wait_on_a_upid_the_node_does_not_know_ends_with_its_timeout_after_few_requests()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        // Well-formed, but never issued by this node (lost with a reinstall, or from another host).
        const string lost = "UPID:pve1:00ABCDEF:0BEEF123:67000000:vzstart:4242:ctrlable@pve!provisioner:";

        // Three seconds: on a busy machine one look can take most of a second, and it must have room to look twice.
        var act = () => pve.Tasks.WaitAsync("pve1", lost, TimeSpan.FromSeconds(3), CancellationToken.None);

        await act.Should().ThrowAsync<TimeoutException>();
        // Looked for again and again (it may appear late) with a growing pause: a dozen or so looks in its three seconds,
        // not one per few milliseconds.
        TaskRequests(pve).Count.Should().BeInRange(2, 25);
    }

    [Fact]
    public async Task A_node_restart_ends_its_running_tasks_and_the_waiters_see_unexpected_status()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upids = await HeldClonesAsync(pve, release.Task, 2);
        var waits = upids.Select(u => pve.Tasks.WaitAsync("pve1", u, TaskTimeout, CancellationToken.None)).ToList();
        await Eventually.TrueAsync(() => TaskRequests(pve).Any(IsListLook), "a look at the running tasks");

        // The node goes down: every request to it fails while it reboots, and the reboot kills its running tasks.
        pve.Sim.Faults.Settings = new FaultSettings { DropConnectionRate = 1 };
        await Eventually.TrueAsync(() => pve.Sim.Faults.Fired.DroppedConnections >= 2, "looks failing while the node is down");
        pve.Sim.Tasks.KillRunning("pve1").Should().Be(2);
        pve.Sim.Faults.Reset();
        var outcomes = await Task.WhenAll(waits);

        outcomes.Should().OnlyContain(o => !o.Succeeded && o.ExitStatus == "unexpected status");
        outcomes.Should().OnlyContain(o => o.Describe() == "unexpected status");
        release.SetResult();
    }

    [Fact]
    public void Pacing_looks_at_a_task_known_to_be_long_only_near_its_expected_end()
    {
        var durations = new TaskDurations();
        foreach (var took in new[] { 60.0, 62, 58, 61 })
        {
            durations.Learn("qmclone", TimeSpan.FromSeconds(took));
        }

        var looks = Looks(durations.Expected("qmclone"), until: TimeSpan.FromSeconds(65));

        looks.Count(t => t < TimeSpan.FromSeconds(40)).Should().BeLessThanOrEqualTo(2, "nothing is expected to end before about 45 s");
        looks.Should().HaveCountLessThanOrEqualTo(2 + TaskPacing.WindowLooks + 2);
    }

    [Fact]
    public void Pacing_finds_the_end_of_a_short_known_task_within_a_fine_poll_and_of_an_unknown_one_within_a_quarter_of_its_age()
    {
        var durations = new TaskDurations();
        foreach (var _ in Enumerable.Range(0, 4))
        {
            durations.Learn("vzstart", TimeSpan.FromSeconds(1));
        }

        var start = Looks(durations.Expected("vzstart"), until: TimeSpan.FromSeconds(2));
        start.First(t => t >= TimeSpan.FromSeconds(1)).Should().BeLessThanOrEqualTo(TimeSpan.FromSeconds(1) + (2 * TaskPacing.FinePoll));
        start.Count(t => t <= TimeSpan.FromSeconds(1)).Should().BeLessThanOrEqualTo(8, "a one-second task is looked at finely only near its end, not every 50 ms from its start");

        var unknown = Looks(null, until: TimeSpan.FromSeconds(400));
        foreach (var end in new[] { 0.3, 2, 17, 95, 300 })
        {
            var found = unknown.First(t => t >= TimeSpan.FromSeconds(end)).TotalSeconds;
            found.Should().BeLessThanOrEqualTo((end * 1.25) + TaskPacing.FinePoll.TotalSeconds + 0.1);
        }
    }

    [Fact]
    public void Pacing_looks_at_a_task_others_wait_for_every_fine_poll_across_its_window_and_sparsely_before_it()
    {
        // Linked clones of one template took 1–3 s (as the emulator's realistic timings draw them).
        var durations = new TaskDurations();
        foreach (var took in new[] { 1.2, 2.9, 1.6, 2.4, 1.0, 2.7, 2.0 })
        {
            durations.Learn("vzclone", TimeSpan.FromSeconds(took));
        }

        var expected = durations.Expected("vzclone")!;
        var alone = Looks(expected, until: TimeSpan.FromSeconds(3));
        var awaited = Looks(expected, until: TimeSpan.FromSeconds(3), awaited: true);
        var windowStart = expected.Mean - (2 * expected.Deviation);

        foreach (var end in new[] { 1.3, 1.77, 2.05, 2.61 })
        {
            var found = awaited.First(t => t >= TimeSpan.FromSeconds(end));
            found.Should().BeLessThanOrEqualTo(TimeSpan.FromSeconds(end) + TaskPacing.FinePoll + TimeSpan.FromMilliseconds(1), "a clone others wait for is seen ended within a fine poll");
        }

        alone.Zip(alone.Skip(1), (a, b) => b - a).Max().Should().BeGreaterThan(2 * TaskPacing.FinePoll, "a clone nobody waits for is looked at more sparsely");
        awaited.Count(t => t < windowStart).Should().Be(alone.Count(t => t < windowStart), "before its window an awaited task is looked at no more often");
        awaited.Should().HaveCountGreaterThan(alone.Count);
    }

    private static List<TimeSpan> Looks(TaskDuration? expected, TimeSpan until, bool awaited = false)
    {
        var looks = new List<TimeSpan>();
        var t = TimeSpan.Zero;
        while (t < until)
        {
            t = TaskPacing.NextCheck(t, expected, awaited);
            looks.Add(t);
        }

        return looks;
    }
}
