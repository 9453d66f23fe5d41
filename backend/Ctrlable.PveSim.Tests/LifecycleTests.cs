using System.Collections.Concurrent;
using System.Net;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.PveSim.Tests;

/// <summary>Start/stop/delete rules, task lifecycle, boot, addresses, first boot, templates.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task A_started_container_gets_its_address_after_booting_and_reports_none_when_stopped()
    {
        // The emulator's own clock, standing still until the test moves it: "still booting" holds however slow the machine.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (sim, api) = await Sims.Start(scale: 1, timings: Sims.InstantTasks, time: time);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        (await api.Get("nodes/pve1/lxc/150/interfaces")).Data.Should().BeNull();

        var start = await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
        start["exitstatus"]!.GetValue<string>().Should().Be("OK");
        var current = (await api.Get("nodes/pve1/lxc/150/status/current")).Data!;
        current["status"]!.GetValue<string>().Should().Be("running");
        current["pid"].Should().NotBeNull();

        var early = (await api.Get("nodes/pve1/lxc/150/interfaces")).Data!.AsArray();
        early.Single(i => i!["name"]!.GetValue<string>() == "eth0")!.AsObject().ContainsKey("inet").Should().BeFalse("the guest is still booting");

        time.Advance(Sims.InstantTasks.BootToNetwork - TimeSpan.FromMilliseconds(1));
        (await Eth0(api))!.AsObject().ContainsKey("inet").Should().BeFalse("the network comes up only when the boot time has passed");
        time.Advance(TimeSpan.FromMilliseconds(1));
        await Until.True(async () => (await Eth0(api))!.AsObject().ContainsKey("inet"), "eth0 has its address");
        var eth0 = (await Eth0(api))!;
        eth0["inet"]!.GetValue<string>().Should().Be("127.0.10.10/24");
        eth0["ip-addresses"]!.AsArray().Select(a => a!["ip-address-type"]!.GetValue<string>()).Should().Equal("inet", "inet6");

        (await api.Post("nodes/pve1/lxc/150/status/start")).Reason.Should().Be("CT 150 already running");
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/shutdown"));
        (await api.Get("nodes/pve1/lxc/150/interfaces")).Data.Should().BeNull();
        (await api.Post("nodes/pve1/lxc/150/status/stop")).Reason.Should().Be("CT 150 not running");
        (await api.Post("nodes/pve1/lxc/150/status/reboot")).Reason.Should().Be("VM 150 not running");
    }

    [Fact]
    public async Task Pve_8_2_container_interfaces_have_only_the_fields_of_8_2()
    {
        var (sim, api) = await Sims.Start(PveVersion.V8_2);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
        var lo = (await api.Get("nodes/pve1/lxc/150/interfaces")).Data!.AsArray()[0]!.AsObject();
        lo.Select(p => p.Key).Should().BeEquivalentTo("name", "hwaddr", "inet", "inet6");
    }

    [Fact]
    public async Task The_qemu_agent_answers_only_when_configured_running_and_booted()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (sim, api) = await Sims.Start(scale: 1, timings: Sims.InstantTasks, time: time);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "160")));
        var path = "nodes/pve1/qemu/160/agent/network-get-interfaces";
        (await api.Get(path)).Reason.Should().Be("VM 160 is not running");
        await api.RunTask(api.Post("nodes/pve1/qemu/160/status/start"));
        (await api.Get(path)).Reason.Should().Be("QEMU guest agent is not running");
        time.Advance(Sims.InstantTasks.BootToNetwork);
        await Until.True(() => NetworkUp(sim, 160), "the VM's network is up");
        (await api.Get(path)).Reason.Should().Be("QEMU guest agent is not running", "the agent starts later than the network");
        time.Advance(Sims.InstantTasks.BootToAgent - Sims.InstantTasks.BootToNetwork);
        await Until.True(async () => (await api.Get(path)).Status == HttpStatusCode.OK, "the agent answers");
        var result = (await api.Get(path)).Data!["result"]!.AsArray();
        var nic = result.Single(i => i!["name"]!.GetValue<string>() != "lo")!;
        nic["ip-addresses"]!.AsArray().First()!["ip-address-type"]!.GetValue<string>().Should().Be("ipv4");
        nic["hardware-address"]!.GetValue<string>().Should().StartWith("bc:24:11:");

        (await api.RunTask(api.Post("nodes/pve1/qemu/160/status/start")))["exitstatus"]!.GetValue<string>().Should().Be("VM 160 already running");
        await api.Put("nodes/pve1/qemu/160/config", ("delete", "agent"));
        (await api.Get(path)).Reason.Should().Be("No QEMU guest agent configured");
    }

    [Fact]
    public async Task Running_guests_cannot_be_destroyed_unless_a_container_is_forced()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "160")));
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
        await api.RunTask(api.Post("nodes/pve1/qemu/160/status/start"));
        (await api.Delete("nodes/pve1/lxc/150")).Reason.Should().Be("unable to destroy CT 150 - container is running");
        (await api.Delete("nodes/pve1/qemu/160")).Reason.Should().Be("VM 160 is running - destroy failed");
        var forced = await api.RunTask(api.Delete("nodes/pve1/lxc/150", ("force", "1"), ("purge", "1")));
        forced["exitstatus"]!.GetValue<string>().Should().Be("OK");
        forced["type"]!.GetValue<string>().Should().Be("vzdestroy");
        (await api.Get("nodes/pve1/lxc/150/status/current")).Status.Should().Be(HttpStatusCode.InternalServerError);

        await api.Put("nodes/pve1/qemu/160/config", ("protection", "1"));
        await api.RunTask(api.Post("nodes/pve1/qemu/160/status/stop"));
        (await api.Delete("nodes/pve1/qemu/160")).Reason.Should().Be("can't remove VM 160 - protection mode enabled");
    }

    [Fact]
    public async Task Destroy_unreferenced_disks_frees_every_volume_named_after_the_vmid_and_only_then()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "151")));
        var files = sim.State.Storages["local-lvm"].Files;
        // Volumes the guests' configs do not hold, as `pvesm alloc local-lvm 150 vm-150-disk-7 4G` leaves them.
        foreach (var vmid in new[] { 150, 151 })
        {
            var volid = $"local-lvm:vm-{vmid}-disk-7";
            files[volid] = new StoredVolume(volid, "images", "raw", 4L << 30, 0, vmid);
        }

        await api.RunTask(api.Delete("nodes/pve1/lxc/150", ("purge", "1")));
        files.Should().ContainKey("local-lvm:vm-150-disk-7", "without the flag only what the config holds is freed");

        var task = await api.RunTask(api.Delete("nodes/pve1/lxc/151", ("purge", "1"), ("destroy-unreferenced-disks", "1")));
        task["exitstatus"]!.GetValue<string>().Should().Be("OK");
        files.Should().NotContainKey("local-lvm:vm-151-disk-7");
        files.Should().ContainKey("local-lvm:vm-150-disk-7");
    }

    [Fact]
    public async Task A_template_cannot_start_and_the_task_ends_in_task_error()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var r = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/status/start");
        r.Status.Should().Be(HttpStatusCode.OK, "the template check runs inside the task");
        var status = await api.WaitTask(r.Upid);
        status["exitstatus"]!.GetValue<string>().Should().Be("you can't start a CT if it's a template");
        var log = (await api.Get($"nodes/pve1/tasks/{Uri.EscapeDataString(r.Upid)}/log")).Data!.AsArray();
        log.Last()!["t"]!.GetValue<string>().Should().Be("TASK ERROR: you can't start a CT if it's a template");

        var missing = await api.RunTask(api.Post("nodes/pve1/lxc/777/status/start"));
        missing["exitstatus"]!.GetValue<string>().Should().Be("Configuration file 'nodes/pve1/lxc/777.conf' does not exist");
    }

    [Fact]
    public async Task Convert_to_template_follows_proxmox_rules()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("full", "1")));
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/template")).Reason.Should().Be("you can't convert a template to a template");
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
        (await api.Post("nodes/pve1/lxc/150/template")).Reason.Should().Be("you can't convert a CT to template if the CT is running");
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/stop"));
        var r = await api.Post("nodes/pve1/lxc/150/template");
        r.Status.Should().Be(HttpStatusCode.OK);
        r.Data.Should().BeNull("the LXC call returns null and converts in the background");
        await Until.True(async () => (await api.Get("nodes/pve1/lxc/150/config")).Data!["template"] is { } t && t.GetValue<int>() == 1, "the container is a template");
        var config = (await api.Get("nodes/pve1/lxc/150/config")).Data!;
        config["template"]!.GetValue<int>().Should().Be(1);
        config["rootfs"]!.GetValue<string>().Should().Be("local-lvm:base-150-disk-0,size=8G");

        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "160"), ("full", "1")));
        var qm = await api.RunTask(api.Post("nodes/pve1/qemu/160/template"));
        qm["type"]!.GetValue<string>().Should().Be("qmtemplate");
    }

    [Fact]
    public async Task A_marked_clone_runs_the_first_boot_behaviour_once_with_its_address()
    {
        var boot = new RecordingBoot();
        var (sim, api) = await Sims.Start(boot: boot, ips: new SequentialIpAllocator("127.0.20.0/24", firstHost: 50));
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("hostname", "zwave-site1")));
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate2}/clone", ("newid", "151")));
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
        await api.RunTask(api.Post("nodes/pve1/lxc/151/status/start"));
        await WaitUntil(() => sim.BootLog.Count >= 1);
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/reboot"));
        // The rebooted guest's network is up: where its boot decides about the first-boot behaviour, under the same lock.
        await WaitUntil(() => NetworkUp(sim, 150));

        var context = boot.Runs.Should().ContainSingle().Subject;
        context.Vmid.Should().Be(150);
        context.Hostname.Should().Be("zwave-site1");
        context.Node.Should().Be("pve1");
        // The allocator hands .50 and .51 out in the order the two clones' networks come up, which a loaded machine may swap.
        var other = (await api.Get("nodes/pve1/lxc/151/interfaces")).Data!.AsArray().Single(i => i!["name"]!.GetValue<string>() == "eth0")!["inet"]!.GetValue<string>();
        context.Address.ToString().Should().BeOneOf("127.0.20.50", "127.0.20.51").And.NotBe(other.Split('/')[0]);
        context.TemplateVmid.Should().Be(Sims.LxcTemplate);
        context.MacAddress.Should().StartWith("BC:24:11:");
        sim.BootLog.Should().ContainSingle().Which.Error.Should().BeNull();
    }

    [Fact]
    public async Task A_failing_first_boot_is_recorded_not_fatal()
    {
        var (sim, api) = await Sims.Start(boot: new FailingBoot());
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
        await WaitUntil(() => sim.BootLog.Count == 1);
        sim.BootLog[0].Error.Should().Contain("orchestrator unreachable");
        (await api.Get("nodes/pve1/lxc/150/status/current")).Data!["status"]!.GetValue<string>().Should().Be("running");
    }

    [Fact]
    public async Task Qemu_config_post_is_a_task_and_put_is_immediate()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "160")));
        var post = await api.RunTask(api.Post("nodes/pve1/qemu/160/config", ("memory", "3072")));
        post["type"]!.GetValue<string>().Should().Be("qmconfig");
        (await api.Get("nodes/pve1/qemu/160/config")).Data!["memory"]!.ToString().Should().Be("3072", "QEMU memory is a property string since 8.1");
        var put = await api.Put("nodes/pve1/qemu/160/config", ("cores", "4"), ("onboot", "1"));
        put.Data.Should().BeNull();
        (await api.Get("nodes/pve1/qemu/160/config")).Data!["cores"]!.GetValue<long>().Should().Be(4);
        (await api.Put("nodes/pve1/qemu/160/config", ("args", "-foo"))).Reason.Should().Be("only root can set 'args' config");
    }

    [Fact]
    public async Task The_task_log_keeps_type_id_node_and_times_of_every_task()
    {
        var (sim, api) = await Sims.Start(nodes: ["pve1", "pve2"]);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
        var log = sim.TaskLog;
        log.Select(t => (t.Type, t.Id, t.Node)).Should().Equal(("vzclone", "9001", "pve1"), ("vzstart", "150", "pve1"));
        log.Should().OnlyContain(t => t.Ended >= t.Started && t.ExitStatus == "OK" && t.User == "root@pam!admin");
        log[1].Started.Should().BeOnOrAfter(log[0].Ended!.Value);

        var list = await api.Get("nodes/pve1/tasks", ("typefilter", "vzstart"));
        list.Data!.AsArray().Single()!["status"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve2/tasks")).Data!.AsArray().Should().BeEmpty();
        var wrongNode = await api.Get($"nodes/pve2/tasks/{Uri.EscapeDataString(log[0].Upid)}/status");
        wrongNode.Error("upid").Should().Be("no such task");
        (await api.Get("nodes/pve1/tasks/garbage/status")).Error("upid").Should().Be("unable to parse worker upid");
    }

    [Fact]
    public async Task Rrd_series_are_aligned_sized_per_version_and_repeatable()
    {
        foreach (var (version, rows) in new[] { (PveVersion.V8_2, 70), (PveVersion.V9_1, 60) })
        {
            var (sim, api) = await Sims.Start(version);
            await using var _ = sim;
            var a = (await api.Get("nodes/pve1/rrddata", ("timeframe", "hour"))).Data!.AsArray();
            var b = (await api.Get("nodes/pve1/rrddata", ("timeframe", "hour"))).Data!.AsArray();
            a.Should().HaveCount(rows);
            var times = a.Select(p => p!["time"]!.GetValue<long>()).ToList();
            times.Should().OnlyContain(t => t % 60 == 0);
            times.Zip(times.Skip(1)).Should().OnlyContain(p => p.Second - p.First == 60);
            var common = times.Intersect(b.Select(p => p!["time"]!.GetValue<long>())).First();
            a.Single(p => p!["time"]!.GetValue<long>() == common)!["cpu"]!.GetValue<double>()
                .Should().Be(b.Single(p => p!["time"]!.GetValue<long>() == common)!["cpu"]!.GetValue<double>());

            var guest = (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/rrddata", ("timeframe", "day"))).Data!.AsArray();
            guest.Should().HaveCount(version == PveVersion.V8_2 ? 70 : 1440);
            guest.Last()!["maxmem"]!.GetValue<long>().Should().Be(2048L << 20);
        }
    }

    private static Task WaitUntil(Func<bool> condition) => Until.True(condition, "the guest's state");

    private static bool NetworkUp(PveSimulator sim, int vmid)
    {
        lock (sim.State.Sync)
        {
            return sim.State.Guest(vmid) is { NetworkUp: true };
        }
    }

    private static async Task<System.Text.Json.Nodes.JsonNode?> Eth0(ApiClient api) =>
        (await api.Get("nodes/pve1/lxc/150/interfaces")).Data!.AsArray().Single(i => i!["name"]!.GetValue<string>() == "eth0");

    private sealed class RecordingBoot : IGuestBootBehaviour
    {
        public ConcurrentQueue<GuestBootContext> Runs { get; } = new();

        public Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken)
        {
            Runs.Enqueue(context);
            return Task.CompletedTask;
        }
    }

    private sealed class FailingBoot : IGuestBootBehaviour
    {
        public Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken) =>
            throw new HttpRequestException("orchestrator unreachable");
    }
}
