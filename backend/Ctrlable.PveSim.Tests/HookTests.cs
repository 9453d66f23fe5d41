using System.Net;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>The hooks tests use to act inside a request or hold a task, and the active-task list a resumed client reads.</summary>
public sealed class HookTests
{
    [Fact]
    public async Task A_held_task_is_listed_as_running_among_the_guests_active_tasks_until_released()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sim.Tasks.Gate = task => task.Upid.Type == "vzstart" ? release.Task : Task.CompletedTask;

        var upid = (await api.Post("nodes/pve1/lxc/150/status/start")).Upid;
        var active = (await api.Get("nodes/pve1/tasks", ("vmid", "150"), ("source", "active"))).Data!.AsArray();

        active.Should().ContainSingle();
        active[0]!["upid"]!.GetValue<string>().Should().Be(upid);
        active[0]!["status"]!.GetValue<string>().Should().Be("RUNNING", "pve-manager lists an active task without a status as RUNNING");
        active[0]!.AsObject().ContainsKey("endtime").Should().BeFalse();
        (await api.Get("nodes/pve1/tasks", ("vmid", "151"), ("source", "active"))).Data!.AsArray().Should().BeEmpty("only the guest's own tasks");
        (await api.Get("nodes/pve1/tasks", ("vmid", "150"))).Data!.AsArray().Select(t => t!["type"]!.GetValue<string>())
            .Should().NotContain("vzstart", "the archive holds finished tasks only");

        release.SetResult();
        (await api.WaitTask(upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve1/tasks", ("vmid", "150"), ("source", "active"))).Data!.AsArray().Should().BeEmpty();
    }

    [Fact]
    public async Task The_intercept_runs_before_a_request_is_handled_and_after_it_is_answered()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var seen = new List<string>();
        sim.Intercept = async (call, next) =>
        {
            if (call.Method == "POST" && call.Path.EndsWith("/clone", StringComparison.Ordinal))
            {
                seen.Add($"before: {sim.TaskLog.Count} tasks");
                await next();
                seen.Add($"after: {sim.TaskLog.Count} tasks");
                return;
            }

            await next();
        };

        var clone = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"));

        clone.Status.Should().Be(HttpStatusCode.OK);
        seen.Should().Equal("before: 0 tasks", "after: 1 tasks");
        sim.Intercept = null;
        (await api.Get("version")).Status.Should().Be(HttpStatusCode.OK);
    }
}
