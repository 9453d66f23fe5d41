using System.Net;
using System.Text.RegularExpressions;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.PveSim.Tests;

/// <summary>Clone rules: locks, VMID clashes, linked-clone storage rules, MACs, pools, targets.</summary>
public sealed partial class CloneTests
{
    // Clones that take ~300 ms, so a test can look at the locks while the task runs.
    private static readonly SimTimings SlowClones = new() { LinkedCloneMin = TimeSpan.FromSeconds(3), LinkedCloneMax = TimeSpan.FromSeconds(3) };

    [Fact]
    public async Task Lxc_clone_locks_source_with_disk_and_target_with_create_so_a_second_clone_fails_at_once()
    {
        var (sim, api) = await Sims.Start(scale: 0.1, timings: SlowClones);
        await using var _ = sim;
        var first = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("hostname", "zw1"));
        first.Status.Should().Be(HttpStatusCode.OK);

        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/status/current")).Data!["lock"]!.GetValue<string>().Should().Be("disk");
        (await api.Get("nodes/pve1/lxc/150/config")).Data!["lock"]!.GetValue<string>().Should().Be("create");

        var second = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "151"));
        second.Status.Should().Be(HttpStatusCode.InternalServerError);
        second.Reason.Should().Be("CT is locked (disk)");

        var change = await api.Put("nodes/pve1/lxc/150/config", ("memory", "1024"));
        change.Status.Should().Be(HttpStatusCode.InternalServerError);
        change.Reason.Should().Be("CT is locked (create)");

        (await api.WaitTask(first.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/status/current")).Data!.AsObject().ContainsKey("lock").Should().BeFalse();
        (await api.Get("nodes/pve1/lxc/150/config")).Data!.AsObject().ContainsKey("lock").Should().BeFalse();
        (await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "151"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
    }

    [Fact]
    public async Task Qemu_clone_locks_only_the_target_so_parallel_clones_of_one_template_work()
    {
        var (sim, api) = await Sims.Start(scale: 0.1, timings: SlowClones);
        await using var _ = sim;
        var a = await api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "160"));
        var b = await api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "161"), ("name", "second"));
        a.Status.Should().Be(HttpStatusCode.OK);
        b.Status.Should().Be(HttpStatusCode.OK);
        (await api.Get($"nodes/pve1/qemu/{Sims.QemuTemplate}/status/current")).Data!.AsObject().ContainsKey("lock").Should().BeFalse();
        (await api.Get("nodes/pve1/qemu/160/config")).Data!["lock"]!.GetValue<string>().Should().Be("clone");
        var locked = await api.Put("nodes/pve1/qemu/160/config", ("memory", "1024"));
        locked.Reason.Should().Be("VM is locked (clone)");

        (await api.WaitTask(a.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.WaitTask(b.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve1/qemu/160/config")).Data!["name"]!.GetValue<string>().Should().Be("Copy-of-VM-haos");
        (await api.Get("nodes/pve1/qemu/161/config")).Data!["name"]!.GetValue<string>().Should().Be("second");
    }

    [Fact]
    public async Task An_existing_vmid_is_refused_with_the_owners_kind_and_node_and_releases_the_source_lock()
    {
        var (sim, api) = await Sims.Start(nodes: ["pve1", "pve2"]);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(300, "elsewhere", GuestKind.Lxc) { Node = "pve2" }, isTemplate: false);
        var lxc = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "300"));
        lxc.Status.Should().Be(HttpStatusCode.InternalServerError);
        lxc.Reason.Should().Be("CT 300 already exists on node 'pve2'");
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", Sims.QemuTemplate.ToString(System.Globalization.CultureInfo.InvariantCulture))))
            .Reason.Should().Be($"VM {Sims.QemuTemplate} already exists on node 'pve1'");
        (await api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "300")))
            .Reason.Should().Be("unable to create VM 300: config file already exists");
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/config")).Data!.AsObject().ContainsKey("lock").Should().BeFalse();
    }

    [Fact]
    public async Task Linked_clones_need_a_template_on_lvmthin_zfspool_rbd_or_btrfs()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(9100, "on-dir", GuestKind.Lxc) { Storage = "local" });
        sim.AddGuest(new TemplateSeed(9101, "vm-on-dir", GuestKind.Qemu) { Storage = "local" });
        sim.AddGuest(new TemplateSeed(400, "plain-ct", GuestKind.Lxc), isTemplate: false);

        (await api.Post("nodes/pve1/lxc/9100/clone", ("newid", "150"))).Reason
            .Should().Be("Linked clone feature for 'local:9100/basevol-9100-disk-0' is not available");
        (await api.Post("nodes/pve1/qemu/9101/clone", ("newid", "150"))).Reason
            .Should().Be("Linked clone feature is not supported for 'local:9101/base-9101-disk-0.raw' (scsi0)");
        (await api.Post("nodes/pve1/lxc/400/clone", ("newid", "150"), ("full", "0"))).Reason
            .Should().Be("Linked clone feature for 'local-lvm:vm-400-disk-0' is not available");
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("storage", "local-lvm"))).Reason
            .Should().Be("parameter 'storage' not allowed for linked clones");
        (await api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "150"), ("storage", "local-lvm"))).Reason
            .Should().Be("parameter 'storage' not allowed for linked clones");

        // A full clone of the same template may choose its storage, and copies the disk.
        var full = await api.RunTask(api.Post("nodes/pve1/lxc/9100/clone", ("newid", "151"), ("full", "1"), ("storage", "local-lvm")));
        full["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve1/lxc/151/config")).Data!["rootfs"]!.GetValue<string>().Should().Be("local-lvm:vm-151-disk-0,size=8G");

        foreach (var type in new[] { "zfspool", "rbd", "btrfs" })
        {
            sim.State.AddStorage($"s-{type}", type, "rootdir,images");
        }

        sim.AddGuest(new TemplateSeed(9102, "on-zfs", GuestKind.Lxc) { Storage = "s-zfspool" });
        (await api.RunTask(api.Post("nodes/pve1/lxc/9102/clone", ("newid", "152"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve1/lxc/152/config")).Data!["rootfs"]!.GetValue<string>()
            .Should().Be("s-zfspool:basevol-9102-disk-0/subvol-152-disk-0,size=8G");
    }

    [Fact]
    public async Task A_full_clone_takes_time_proportional_to_the_disk()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "151"), ("full", "1")));
        var linked = sim.TaskLog.Single(t => t.Type == "vzclone");
        var full = sim.TaskLog.Single(t => t.Type == "qmclone");
        linked.NominalDuration.Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1)).And.BeLessThanOrEqualTo(TimeSpan.FromSeconds(3));
        full.NominalDuration.Should().Be(TimeSpan.FromSeconds(2 + (2 * 32)));
        full.Ended.Should().NotBeNull();
        (full.Ended!.Value - full.Started).Should().BeGreaterThanOrEqualTo(sim.Clock.Scaled(full.NominalDuration) - TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public async Task Clones_get_new_mac_addresses_in_the_proxmox_prefix_printed_in_proxmox_order()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "151")));
        var templateNet = (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/config")).Data!["net0"]!.GetValue<string>();
        var lxcNet = (await api.Get("nodes/pve1/lxc/150/config")).Data!["net0"]!.GetValue<string>();
        lxcNet.Should().MatchRegex("^name=eth0,bridge=vmbr0,hwaddr=BC:24:11(:[0-9A-F]{2}){3},ip=dhcp,type=veth$");
        lxcNet.Should().NotBe(templateNet);
        var qemuNet = (await api.Get("nodes/pve1/qemu/151/config")).Data!["net0"]!.GetValue<string>();
        qemuNet.Should().MatchRegex("^virtio=BC:24:11(:[0-9A-F]{2}){3},bridge=vmbr0$");

        // A MAC set through config is kept; a net line without one gets one.
        await api.Put("nodes/pve1/lxc/150/config", ("net0", "name=eth0,bridge=vmbr0,hwaddr=02:11:22:33:44:55,ip=dhcp"), ("net1", "ip=dhcp,name=eth1,bridge=vmbr1"));
        var config = (await api.Get("nodes/pve1/lxc/150/config")).Data!;
        config["net0"]!.GetValue<string>().Should().Be("name=eth0,bridge=vmbr0,hwaddr=02:11:22:33:44:55,ip=dhcp");
        config["net1"]!.GetValue<string>().Should().MatchRegex("^name=eth1,bridge=vmbr1,hwaddr=BC:24:11(:[0-9A-F]{2}){3},ip=dhcp$");
    }

    [Fact]
    public async Task Clone_task_upid_log_and_status_look_like_proxmox()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var r = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"));
        UpidRe().IsMatch(r.Upid).Should().BeTrue(r.Upid);
        r.Upid.Should().Contain($":vzclone:{Sims.LxcTemplate}:root@pam!admin:");
        var status = await api.WaitTask(r.Upid);
        status["exitstatus"]!.GetValue<string>().Should().Be("OK");
        status["user"]!.GetValue<string>().Should().Be("root@pam");
        status["tokenid"]!.GetValue<string>().Should().Be("admin");
        status["type"]!.GetValue<string>().Should().Be("vzclone");
        var log = await api.Get($"nodes/pve1/tasks/{Uri.EscapeDataString(r.Upid)}/log");
        var lines = log.Data!.AsArray().Select(l => l!["t"]!.GetValue<string>()).ToList();
        lines.First().Should().Be($"creating a clone of container {Sims.LxcTemplate} with ID 150");
        lines.Should().Contain($"create linked clone of mount point rootfs (local-lvm:base-{Sims.LxcTemplate}-disk-0)");
        lines.Last().Should().Be("TASK OK");
        log.Body!["total"]!.GetValue<int>().Should().Be(lines.Count);

        var paged = await api.Get($"nodes/pve1/tasks/{Uri.EscapeDataString(r.Upid)}/log", ("start", "1"), ("limit", "1"));
        paged.Data!.AsArray().Single()!["n"]!.GetValue<int>().Should().Be(2);
    }

    [Fact]
    public async Task A_clone_carries_the_description_it_was_asked_for_for_containers_and_vms()
    {
        // pve-container and qemu-server clone_vm take "description" for the new guest: the product marks its clones
        // with it from the start, so whose guest a VMID holds can be told even after a failed or interrupted clone.
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("hostname", "ct"), ("description", "instance #1 (ct) [n1]")));
        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "151"), ("name", "vm"), ("description", "instance #2 (vm) [n2]")));

        (await api.Get("nodes/pve1/lxc/150/config")).Data!["description"]!.GetValue<string>().Should().Be("instance #1 (ct) [n1]");
        (await api.Get("nodes/pve1/qemu/151/config")).Data!["description"]!.GetValue<string>().Should().Be("instance #2 (vm) [n2]");
    }

    [Fact]
    public async Task Pools_receive_clones_and_an_unknown_pool_is_refused()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        (await api.Post("pools", ("poolid", "site"))).Status.Should().Be(HttpStatusCode.OK);
        var missing = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("pool", "nope"));
        missing.Status.Should().Be(HttpStatusCode.Forbidden);
        missing.Reason.Should().Be("Permission check failed (pool 'nope' does not exist)");
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("pool", "site")));
        var members = (await api.Get("pools/site")).Data!["members"]!.AsArray();
        members.Select(m => m!["vmid"]!.GetValue<int>()).Should().Equal(150);
        (await api.Get("cluster/resources", ("type", "vm"))).Data!.AsArray()
            .Single(g => g!["vmid"]!.GetValue<int>() == 150)!["pool"]!.GetValue<string>().Should().Be("site");
        (await api.Delete("pools/site")).Reason.Should().Be("pool not empty");
    }

    [Fact]
    public async Task Clone_to_another_node_needs_shared_storage()
    {
        var (sim, api) = await Sims.Start(nodes: ["pve1", "pve2"]);
        await using var _ = sim;
        var local = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("target", "pve2"));
        local.Reason.Should().Be("can't clone CT to node 'pve2' (CT uses local storage)");
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("target", "pve9"))).Reason
            .Should().Be("no such cluster node 'pve9'");

        sim.State.AddStorage("ceph", "rbd", "rootdir,images", shared: true);
        sim.AddGuest(new TemplateSeed(9200, "shared", GuestKind.Lxc) { Storage = "ceph" });
        await api.RunTask(api.Post("nodes/pve1/lxc/9200/clone", ("newid", "151"), ("target", "pve2")));
        (await api.Get("nodes/pve2/lxc/151/status/current")).Status.Should().Be(HttpStatusCode.OK);
        (await api.Get("nodes/pve1/lxc/151/status/current")).Reason.Should().Be("Configuration file 'nodes/pve1/lxc/151.conf' does not exist");
        (await api.Get("nodes/pve2/lxc")).Data!.AsArray().Select(g => g!["vmid"]!.GetValue<int>()).Should().Contain(151);
    }

    [Fact]
    public async Task A_fresh_guest_is_unknown_in_cluster_resources_for_a_few_seconds()
    {
        // The emulator's clock stands still until the test moves it: "fresh" does not depend on the machine's speed.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var timings = Sims.InstantTasks with { StatusUnknownAfterCreate = TimeSpan.FromSeconds(10) };
        var (sim, api) = await Sims.Start(scale: 1, timings: timings, time: time);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        var fresh = (await api.Get("cluster/resources", ("type", "vm"))).Data!.AsArray().Single(g => g!["vmid"]!.GetValue<int>() == 150)!;
        fresh["status"]!.GetValue<string>().Should().Be("unknown");
        fresh.AsObject().ContainsKey("name").Should().BeFalse();
        time.Advance(timings.StatusUnknownAfterCreate - TimeSpan.FromSeconds(1));
        (await api.Get("cluster/resources", ("type", "vm"))).Data!.AsArray().Single(g => g!["vmid"]!.GetValue<int>() == 150)!["status"]!
            .GetValue<string>().Should().Be("unknown", "pvestatd has not run yet");
        time.Advance(TimeSpan.FromSeconds(1));
        var later = (await api.Get("cluster/resources", ("type", "vm"))).Data!.AsArray().Single(g => g!["vmid"]!.GetValue<int>() == 150)!;
        later["status"]!.GetValue<string>().Should().Be("stopped");
        later["template"]!.GetValue<int>().Should().Be(0);
    }

    [Fact]
    public async Task A_container_template_whose_base_volume_a_linked_clone_names_is_not_destroyed_with_pve_containers_text()
    {
        var (sim, api) = await Sims.Start(templateStorage: "local-zfs");
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        (await api.Get("nodes/pve1/lxc/150/config")).Data!["rootfs"]!.GetValue<string>()
            .Should().StartWith($"local-zfs:basevol-{Sims.LxcTemplate}-disk-0/subvol-150-disk-0", "ZFSPoolPlugin names the clone below its base");
        var destroy = await api.RunTask(api.Delete($"nodes/pve1/lxc/{Sims.LxcTemplate}"));
        // pve-storage vdisk_free (Storage.pm:1204): the volume name without its storage.
        destroy["exitstatus"]!.GetValue<string>().Should().Be($"base volume 'basevol-{Sims.LxcTemplate}-disk-0' is still in use by linked clones");
        sim.State.Guests.Should().ContainKey(Sims.LxcTemplate, "nothing of it is destroyed");
        await api.RunTask(api.Delete("nodes/pve1/lxc/150"));
        (await api.RunTask(api.Delete($"nodes/pve1/lxc/{Sims.LxcTemplate}")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
    }

    [Theory]
    [InlineData("local-zfs", "local-zfs:base-9000-disk-0/vm-150-disk-0")]
    [InlineData("ceph", "ceph:base-9000-disk-0/vm-150-disk-0")]
    public async Task A_vm_template_whose_base_volume_a_linked_clone_names_is_not_destroyed_with_qemu_servers_text(string storage, string cloneVolume)
    {
        var (sim, api) = await Sims.Start(templateStorage: storage);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "150"), ("name", "clone")));
        (await api.Get("nodes/pve1/qemu/150/config")).Data!["scsi0"]!.GetValue<string>().Should().StartWith(cloneVolume);
        var destroy = await api.RunTask(api.Delete($"nodes/pve1/qemu/{Sims.QemuTemplate}"));
        // qemu-server destroy_vm (QemuServer.pm:1867): the volume id, and "cloned".
        destroy["exitstatus"]!.GetValue<string>().Should().Be($"base volume '{storage}:base-{Sims.QemuTemplate}-disk-0' is still in use by linked cloned");
        await api.RunTask(api.Delete("nodes/pve1/qemu/150"));
        (await api.RunTask(api.Delete($"nodes/pve1/qemu/{Sims.QemuTemplate}")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
    }

    [Fact]
    public async Task An_lvm_thin_template_is_destroyed_although_a_linked_clone_of_it_runs_as_proxmox_allows()
    {
        // LvmThinPlugin: clones are thin snapshots named vm-N-disk-M, which survive their origin (pve-storage's note).
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        (await api.RunTask(api.Delete($"nodes/pve1/lxc/{Sims.LxcTemplate}")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
    }

    [GeneratedRegex(@"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$")]
    private static partial Regex UpidRe();
}
