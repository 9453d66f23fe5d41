using System.Net;
using System.Net.Http.Json;
using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Tasks;
using Ctrlable.PveSim.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.PveSim.Tests;

/// <summary>Runtime fault injection, in-process and through /_sim/faults. Off by default.</summary>
public sealed class FaultTests
{
    [Fact]
    public async Task Faults_are_off_by_default()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        sim.Faults.Settings.Should().Be(FaultSettings.None);
    }

    [Fact]
    public async Task Latency_delays_answers()
    {
        // Latency runs on the emulator's clock: the answer comes only once the test has moved it by 250 ms.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (sim, api) = await Sims.Start(time: time);
        await using var _ = sim;
        sim.Faults.Settings = new FaultSettings { LatencyMs = 250 };

        var call = api.Get("version");
        var advanced = TimeSpan.Zero;
        while (!call.IsCompleted)
        {
            time.Advance(TimeSpan.FromMilliseconds(10));
            advanced += TimeSpan.FromMilliseconds(10);
            await Task.WhenAny(call, Task.Delay(5));
        }

        (await call).Status.Should().Be(HttpStatusCode.OK);
        advanced.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250));
    }

    [Fact]
    public async Task A_schedule_strikes_every_nth_time_up_to_its_limit_and_every_fault_is_counted()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        sim.Faults.Settings = new FaultSettings { ServerErrorEvery = 3, ServerErrorLimit = 2, ServerErrorStatus = 503, PathPattern = "^/version$" };

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 9; i++)
        {
            statuses.Add((await api.Get("version")).Status);
            (await api.Get("nodes")).Status.Should().Be(HttpStatusCode.OK, "requests the pattern does not match are not counted");
        }

        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable,
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable,
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK);
        sim.Faults.Fired.Should().Be(new FaultCounts(ServerErrors: 2, DroppedConnections: 0, LockContentions: 0, TaskFailures: 0));

        // Setting faults again starts a new schedule; the counts go on.
        sim.Faults.Settings = new FaultSettings { LockContentionEvery = 2 };
        (await api.Put($"nodes/pve1/qemu/{Sims.QemuTemplate}/config", ("description", "a"))).Status.Should().Be(HttpStatusCode.OK);
        (await api.Put($"nodes/pve1/qemu/{Sims.QemuTemplate}/config", ("description", "b"))).Reason
            .Should().Be($"can't lock file '/var/lock/qemu-server/lock-{Sims.QemuTemplate}.conf' - got timeout");
        (await api.Put($"nodes/pve1/qemu/{Sims.QemuTemplate}/config", ("description", "c"))).Status.Should().Be(HttpStatusCode.OK);
        sim.Faults.Fired.Should().Be(new FaultCounts(2, 0, 1, 0));

        sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, DropConnectionRate = 0 };
        (await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"))))["exitstatus"]!.GetValue<string>().Should().StartWith("clone failed");
        sim.Faults.Fired.TaskFailures.Should().Be(1);
    }

    [Fact]
    public async Task Server_errors_hit_a_fraction_of_requests_optionally_only_matching_paths()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        sim.Faults.Settings = new FaultSettings { ServerErrorRate = 1, PathPattern = "^/cluster/" };
        var hit = await api.Get("cluster/resources");
        hit.Status.Should().Be(HttpStatusCode.InternalServerError);
        hit.Reason.Should().Be("proxy handler failed: got timeout");
        (await api.Get("version")).Status.Should().Be(HttpStatusCode.OK);

        sim.Faults.Settings = new FaultSettings { ServerErrorRate = 0.5 };
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 40; i++)
        {
            statuses.Add((await api.Get("version")).Status);
        }

        statuses.Should().Contain(HttpStatusCode.OK).And.Contain(HttpStatusCode.InternalServerError);
    }

    [Fact]
    public async Task Server_errors_can_hit_one_method_only()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        sim.Faults.Settings = new FaultSettings { ServerErrorRate = 1, ServerErrorStatus = 403, ServerErrorMessage = "Permission check failed", PathPattern = "/config$", Method = "PUT" };

        (await api.Put($"nodes/pve1/qemu/{Sims.QemuTemplate}/config", ("memory", "1024"))).Reason.Should().Be("Permission check failed");
        (await api.Get($"nodes/pve1/qemu/{Sims.QemuTemplate}/config")).Status.Should().Be(HttpStatusCode.OK, "the read of the config is another method");
    }

    [Fact]
    public async Task Dropped_connections_fail_the_request()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        sim.Faults.Settings = new FaultSettings { DropConnectionRate = 1 };
        var act = () => api.Get("version");
        await act.Should().ThrowAsync<HttpRequestException>();
        sim.Faults.Reset();
        (await api.Get("version")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Lock_contention_times_out_like_a_busy_config_lock()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        sim.Faults.Settings = new FaultSettings { LockContentionRate = 1 };
        var lxc = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"));
        lxc.Status.Should().Be(HttpStatusCode.InternalServerError);
        lxc.Reason.Should().Be($"can't lock file '/run/lock/lxc/pve-config-{Sims.LxcTemplate}.lock' - got timeout");
        (await api.Put($"nodes/pve1/qemu/{Sims.QemuTemplate}/config", ("memory", "1024"))).Reason
            .Should().Be($"can't lock file '/var/lock/qemu-server/lock-{Sims.QemuTemplate}.conf' - got timeout");
    }

    [Fact]
    public async Task Failing_tasks_end_in_error_and_undo_a_clone()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = "lvcreate failed" };
        var status = await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        status["exitstatus"]!.GetValue<string>().Should().Be("clone failed: lvcreate failed");
        (await api.Get("nodes/pve1/lxc/150/config")).Status.Should().Be(HttpStatusCode.InternalServerError);
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/config")).Data!.AsObject().ContainsKey("lock").Should().BeFalse();
        sim.TaskLog.Single().Succeeded.Should().BeFalse();
    }

    [Fact]
    public async Task The_admin_endpoint_reads_and_sets_faults_and_lists_tasks()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        using var admin = sim.CreateClient();
        var root = new Uri(sim.BaseAddress, "/_sim/");
        (await admin.GetFromJsonAsync<FaultSettings>(new Uri(root, "faults"))).Should().Be(FaultSettings.None);
        var put = await admin.PutAsync(new Uri(root, "faults"), new StringContent("""{"latencyMs":5,"serverErrorRate":0.25,"pathPattern":"/clone$"}""", System.Text.Encoding.UTF8, "application/json"));
        put.StatusCode.Should().Be(HttpStatusCode.OK);
        sim.Faults.Settings.Should().Be(new FaultSettings { LatencyMs = 5, ServerErrorRate = 0.25, PathPattern = "/clone$" });

        sim.Faults.Reset();
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        var tasks = await admin.GetFromJsonAsync<List<TaskRecord>>(new Uri(root, "tasks"));
        tasks.Should().ContainSingle().Which.Type.Should().Be("vzclone");
    }
}
