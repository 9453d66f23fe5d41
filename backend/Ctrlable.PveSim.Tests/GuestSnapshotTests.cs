using System.Net;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>
/// Guest snapshots as pve-container / qemu-server and pve-guest-common's AbstractConfig serve them: reserved names refused
/// at once, the rest inside the task (already used, no such snapshot); the lock released at the task's end; the
/// config's parent; a rollback that stops a running guest and brings back the config; the schema's privileges.
/// </summary>
public sealed class GuestSnapshotTests
{
    [Theory]
    [MemberData(nameof(Sims.BothVersions), MemberType = typeof(Sims))]
    public async Task A_snapshot_is_taken_under_its_lock_rolled_back_stopping_the_guest_and_deleted(PveVersion version)
    {
        var (sim, api) = await Sims.Start(version);
        await using var _ = sim;
        using var __ = api;
        await api.WaitTask((await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "300"), ("hostname", "snap"))).Upid);
        await api.WaitTask((await api.Post("nodes/pve1/lxc/300/status/start")).Upid);

        (await api.Post("nodes/pve1/lxc/300/snapshot", ("snapname", "current"))).Reason.Should().Be("unable to use snapshot name 'current' (reserved name)");
        (await api.Post("nodes/pve1/lxc/300/snapshot", ("snapname", "2026.07"))).Status.Should().Be(HttpStatusCode.BadRequest, "a snapshot name is a configid: no dots");

        var taking = (await api.Post("nodes/pve1/lxc/300/snapshot", ("snapname", "before"), ("description", "before the change"))).Upid;
        (await api.WaitTask(taking))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        sim.State.Guest(300)!.Lock.Should().BeNull();
        sim.State.Guest(300)!.Config["parent"].Should().Be("before");

        var again = await api.WaitTask((await api.Post("nodes/pve1/lxc/300/snapshot", ("snapname", "before"))).Upid);
        again["exitstatus"]!.GetValue<string>().Should().Be("snapshot name 'before' already used");

        var list = (await api.Get("nodes/pve1/lxc/300/snapshot")).Data!.AsArray();
        list.Select(s => s!["name"]!.GetValue<string>()).Should().Equal("before", "current");
        list[1]!["parent"]!.GetValue<string>().Should().Be("before");
        list[0]!["description"]!.GetValue<string>().Should().Be("before the change");

        var memory = sim.State.Guest(300)!.Config["memory"];
        (await api.Put("nodes/pve1/lxc/300/config", ("memory", "4096"))).Status.Should().Be(HttpStatusCode.OK);
        var rollback = await api.WaitTask((await api.Post("nodes/pve1/lxc/300/snapshot/before/rollback")).Upid);
        rollback["exitstatus"]!.GetValue<string>().Should().Be("OK");
        sim.State.Guest(300)!.Running.Should().BeFalse("a rollback stops the guest and starts it only with start=1");
        sim.State.Guest(300)!.Config["memory"].Should().Be(memory, "the snapshot's config is back");

        var missing = await api.WaitTask((await api.Delete("nodes/pve1/lxc/300/snapshot/other")).Upid);
        missing["exitstatus"]!.GetValue<string>().Should().Be("snapshot 'other' does not exist");
        (await api.WaitTask((await api.Delete("nodes/pve1/lxc/300/snapshot/before")).Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        sim.State.Guest(300)!.Snapshots.Should().BeEmpty();
        sim.State.Guest(300)!.Config.Should().NotContainKey("parent");
    }

    [Fact]
    public async Task Taking_a_snapshot_needs_VM_Snapshot_and_rolling_back_VM_Snapshot_Rollback_or_VM_Snapshot()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        using var __ = api;
        await api.WaitTask((await api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "301"), ("name", "snap"))).Upid);
        await api.WaitTask((await api.Post("nodes/pve1/qemu/301/snapshot", ("snapname", "s1"))).Upid);

        Access.Role(sim, "RollbackOnly", "VM.Audit", "VM.Snapshot.Rollback");
        using var rollbackOnly = Sims.Client(sim, Access.Token(sim, "rb@pve", "RollbackOnly", "/vms/301"));
        var take = await rollbackOnly.Post("nodes/pve1/qemu/301/snapshot", ("snapname", "s2"));
        take.Status.Should().Be(HttpStatusCode.Forbidden);
        take.Reason.Should().Be("Permission check failed (/vms/301, VM.Snapshot)");
        (await rollbackOnly.Get("nodes/pve1/qemu/301/snapshot")).Status.Should().Be(HttpStatusCode.OK);
        var rollback = await rollbackOnly.Post("nodes/pve1/qemu/301/snapshot/s1/rollback");
        rollback.Status.Should().Be(HttpStatusCode.OK);
        (await rollbackOnly.WaitTask(rollback.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await rollbackOnly.Delete("nodes/pve1/qemu/301/snapshot/s1")).Status.Should().Be(HttpStatusCode.Forbidden);
    }
}
