using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>
/// The two task lists as pve-manager serves them while a task runs: the node's active list (Tasks.pm node_tasks, the
/// "active" file, the UPID's user not split) and /cluster/tasks (Cluster.pm, the token split off, everything only with
/// Sys.Audit on "/").
/// </summary>
public sealed class TaskListTests
{
    [Fact]
    public async Task A_running_task_is_listed_by_the_node_to_auditors_and_by_the_cluster_only_with_sys_audit_on_root()
    {
        var (sim, admin) = await Sims.Start();
        await using var _ = sim;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sim.Tasks.Gate = task => task.Upid.Type == "vzclone" ? release.Task : Task.CompletedTask;
        var upid = (await admin.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"))).Upid;
        Access.Role(sim, "NodeAuditor", "Sys.Audit");
        using var nodeAuditor = Sims.Client(sim, Access.Token(sim, "auditor@pve", "NodeAuditor", "/nodes"));
        Access.Role(sim, "Nothing", "VM.Audit");
        using var stranger = Sims.Client(sim, Access.Token(sim, "stranger@pve", "Nothing", "/vms"));

        var active = (await admin.Get("nodes/pve1/tasks", ("source", "active"))).Data!.AsArray();
        var cluster = (await admin.Get("cluster/tasks")).Data!.AsArray();

        var entry = active.Should().ContainSingle().Subject!.AsObject();
        entry["upid"]!.GetValue<string>().Should().Be(upid);
        entry["status"]!.GetValue<string>().Should().Be("RUNNING");
        entry["user"]!.GetValue<string>().Should().Be("root@pam!admin", "the active file's entries keep the UPID's user");
        entry.ContainsKey("tokenid").Should().BeFalse();
        var listed = cluster.Should().ContainSingle(t => t!["upid"]!.GetValue<string>() == upid).Subject!.AsObject();
        listed["user"]!.GetValue<string>().Should().Be("root@pam");
        listed["tokenid"]!.GetValue<string>().Should().Be("admin");
        listed.ContainsKey("status").Should().BeFalse("a running task has no status in the broadcast list");

        (await nodeAuditor.Get("nodes/pve1/tasks", ("source", "active"))).Data!.AsArray().Should().ContainSingle("Sys.Audit on the node shows every user's tasks");
        (await nodeAuditor.Get("cluster/tasks")).Data!.AsArray().Should().BeEmpty("without Sys.Audit on / a token sees none, not even its own");
        (await stranger.Get("nodes/pve1/tasks", ("source", "active"))).Data!.AsArray().Should().BeEmpty("neither owner nor auditor");

        release.SetResult();
        var status = await admin.WaitTask(upid);
        status["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await admin.Get("nodes/pve1/tasks", ("source", "active"))).Data!.AsArray().Should().BeEmpty("an ended task is archived");
        (await admin.Get("cluster/tasks")).Data!.AsArray().Should().Contain(t => t!["upid"]!.GetValue<string>() == upid && t["status"]!.GetValue<string>() == "OK");
    }

    [Fact]
    public async Task A_killed_task_reads_unexpected_status_without_an_end_line()
    {
        var (sim, admin) = await Sims.Start();
        await using var _ = sim;
        sim.Tasks.Gate = task => task.Upid.Type == "vzclone" ? new TaskCompletionSource().Task : Task.CompletedTask;
        var upid = (await admin.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"))).Upid;

        sim.Tasks.KillRunning("pve1").Should().Be(1);

        (await admin.WaitTask(upid))["exitstatus"]!.GetValue<string>().Should().Be("unexpected status");
        var log = (await admin.Get($"nodes/pve1/tasks/{Uri.EscapeDataString(upid)}/log")).Data!.AsArray();
        log.Select(l => l!["t"]!.GetValue<string>()).Should().NotContain(t => t.StartsWith("TASK ", StringComparison.Ordinal));
    }
}
