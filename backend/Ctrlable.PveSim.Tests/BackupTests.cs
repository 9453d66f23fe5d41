using System.Net;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>
/// vzdump, the backup content listing, volume removal and restores into a new guest, with the permission checks the
/// schema describes (VM.Backup on the guest, Datastore.AllocateSpace on the storage, Datastore.Allocate for prune-backups).
/// </summary>
public sealed class BackupTests
{
    private const int Guest = 1001;
    private const int Foreign = 500;

    [Theory]
    [MemberData(nameof(Sims.BothVersions), MemberType = typeof(Sims))]
    public async Task The_least_privilege_token_backs_up_lists_removes_and_restores_its_pool_s_guests_only(PveVersion version)
    {
        var (sim, admin) = await Sims.Start(version, scale: 0.02);
        await using var _ = sim;
        var token = sim.Seed(LeastPrivilege.Spec(version)).Tokens.Single();
        sim.AddGuest(new TemplateSeed(Guest, "zwave", GuestKind.Lxc, 4) { Pool = "ctrlable", Running = true, Description = "ours" }, isTemplate: false);
        sim.AddGuest(new TemplateSeed(Foreign, "someone-elses", GuestKind.Lxc, 4) { Running = true }, isTemplate: false);
        using var api = Sims.Client(sim, token);

        // A guest outside the pool: 403 before any task.
        (await api.Post("nodes/pve1/vzdump", ("vmid", $"{Foreign}"), ("storage", "local"))).Status.Should().Be(HttpStatusCode.Forbidden);
        // prune-backups needs Datastore.Allocate on the storage, which the layout does not grant.
        (await api.Post("nodes/pve1/vzdump", ("vmid", $"{Guest}"), ("storage", "local"), ("prune-backups", "keep-last=1"))).Status.Should().Be(HttpStatusCode.Forbidden);
        // A storage without backup content is refused.
        (await api.Post("nodes/pve1/vzdump", ("vmid", $"{Guest}"), ("storage", "local-lvm"))).ToString().Should().Contain("does not support vzdump backups");

        var task = await api.RunTask(api.Post("nodes/pve1/vzdump", ("vmid", $"{Guest}"), ("storage", "local"), ("mode", "snapshot"), ("notes-template", "backup of {{guestname}} ({{vmid}})")));
        task["exitstatus"]!.GetValue<string>().Should().Be("OK");
        var listed = (await api.Get("nodes/pve1/storage/local/content", ("content", "backup"), ("vmid", $"{Guest}"))).Data!.AsArray().Single()!;
        listed["vmid"]!.GetValue<int>().Should().Be(Guest);
        listed["notes"]!.GetValue<string>().Should().Be($"backup of zwave ({Guest})");
        var volid = listed["volid"]!.GetValue<string>();
        volid.Should().StartWith($"local:backup/vzdump-lxc-{Guest}-").And.EndWith(".tar.zst");
        sim.State.Guests[Guest].Lock.Should().BeNull("the backup lock ends with the task");

        // A restore never goes over an existing guest (no force).
        (await api.Post("nodes/pve1/lxc", ("vmid", $"{Guest}"), ("ostemplate", volid), ("restore", "1"), ("pool", "ctrlable"))).ToString().Should().Contain("already exists");
        var restored = await api.RunTask(api.Post("nodes/pve1/lxc", ("vmid", "1002"), ("ostemplate", volid), ("restore", "1"), ("unique", "1"), ("pool", "ctrlable"), ("storage", "local-lvm")));
        restored["exitstatus"]!.GetValue<string>().Should().Be("OK");
        lock (sim.State.Sync)
        {
            var copy = sim.State.Guests[1002];
            copy.Config["description"].Should().Be("ours");
            copy.Config["net0"].Should().NotBe(sim.State.Guests[Guest].Config["net0"], "unique=1: a new MAC");
            copy.Running.Should().BeFalse();
            sim.State.Access.PoolOf(1002).Should().Be("ctrlable");
        }

        // Removing its own guest's backup: AllocateSpace on the storage and VM.Backup on the guest are enough.
        (await api.RunTask(api.Delete($"nodes/pve1/storage/local/content/{Uri.EscapeDataString(volid)}")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve1/storage/local/content", ("content", "backup"))).Data!.AsArray().Should().BeEmpty();
    }

    [Fact]
    public async Task Prune_backups_keep_last_keeps_the_newest_archives_of_the_guest()
    {
        var (sim, admin) = await Sims.Start(scale: 0.01);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(Guest, "zwave", GuestKind.Lxc, 4) { Running = true }, isTemplate: false);
        for (var i = 0; i < 3; i++)
        {
            (await admin.RunTask(admin.Post("nodes/pve1/vzdump", ("vmid", $"{Guest}"), ("storage", "local"), ("prune-backups", "keep-last=2"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        }

        (await admin.Get("nodes/pve1/storage/local/content", ("content", "backup"))).Data!.AsArray().Should().HaveCount(2);
    }

    [Fact]
    public async Task A_locked_guest_fails_the_backup_job_with_vzdump_s_words()
    {
        var (sim, admin) = await Sims.Start(scale: 0.01);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(Guest, "zwave", GuestKind.Lxc, 4) { Running = true }, isTemplate: false);
        lock (sim.State.Sync)
        {
            sim.State.Guests[Guest].Config["lock"] = "snapshot";
        }

        var upid = (await admin.Post("nodes/pve1/vzdump", ("vmid", $"{Guest}"), ("storage", "local"))).Upid;
        var task = await admin.WaitTask(upid);
        task["exitstatus"]!.GetValue<string>().Should().Be("job errors");
        var log = (await admin.Get($"nodes/pve1/tasks/{Uri.EscapeDataString(upid)}/log")).Data!.AsArray().Select(l => l!["t"]!.GetValue<string>());
        log.Should().Contain($"ERROR: Backup of VM {Guest} failed - CT is locked (snapshot)");
    }
}
