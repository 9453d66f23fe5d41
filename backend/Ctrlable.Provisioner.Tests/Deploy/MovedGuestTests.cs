using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.GuestBackups;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.Provisioner.Tests.Upgrade;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// Every action on a guest follows a guest Proxmox moved (SPEC §7c "Following guests Proxmox moved"): an admin migrates
/// the guest between its deploy and the action, the action reaches it on its new node (the emulator's task log names
/// the node) and the instance's recorded node is corrected. A guest on a node off the network makes the action fail with
/// a problem naming the node, and nothing changes. Another admin's guests stay untouched.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class MovedGuestTests
{
    private const int Guest = 1001;

    [Fact]
    public async Task A_backup_and_a_restore_of_a_guest_Proxmox_moved_run_on_its_new_node_and_its_node_is_recorded()
    {
        await using var site = await BackupSite.StartAsync(nodes: ["pve1", "pve2"]);
        var foreign = ForeignGuests.Capture(site.Pve.Sim);
        var own = await site.AddActiveGuestAsync(Guest);
        await MigrateAsync(site.Pve.Sim, Guest, "pve2");

        var run = await site.BackUpNowAsync(0);

        run.GetProperty("state").GetString().Should().Be("succeeded", run.GetProperty("message").GetString());
        site.Pve.Sim.TaskLog.Where(t => t.Type == "vzdump").Should().ContainSingle().Which.Node.Should().Be("pve2", "vzdump runs where the guest is now");
        (await site.App.Service<InstanceRepository>().GetAsync(own.Id, CancellationToken.None))!.Node.Should().Be("pve2", "the instance follows its guest");

        var volid = (await site.BackupsAsync()).GetProperty("guests")[0].GetProperty("lastBackup").GetProperty("volid").GetString()!;
        var response = await site.Client.PostAsJsonAsync($"/api/projects/{site.ProjectId}/backups/restore", new { instanceId = own.Id, volid });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        await Eventually.TrueAsync(() => Task.FromResult(site.Pve.Sim.TaskLog.Any(t => t.Type == "vzrestore" && t.Ended is not null)), "the restore task ended");
        var restore = site.Pve.Sim.TaskLog.Single(t => t.Type == "vzrestore");
        restore.Node.Should().Be("pve2", "the archive is restored where the original guest is now");
        restore.ExitStatus.Should().Be("OK");
        site.Pve.Sim.State.Guest(Guest)!.Node.Should().Be("pve2", "the original stays as it is");
        foreign.ShouldBeUntouched(site.Pve.Sim);
    }

    [Fact]
    public async Task An_upgrade_snapshots_and_updates_a_guest_Proxmox_moved_on_its_new_node_and_the_sweep_removes_the_snapshot_there()
    {
        using var site = await UpgradeSite.StartAsync("Moved upgrade", nodes: "pve,pve2");
        var zwave = await site.InstanceAsync("zwavejs");
        var (id, vmid) = (zwave.GetProperty("id").GetInt64(), UpgradeSite.Vmid(zwave));
        var sim = site.Host.Simulator;
        var before = sim.State.Guest(vmid)!.Node;
        var target = before == "pve" ? "pve2" : "pve";
        await MigrateAsync(sim, vmid, target);
        await site.PublishNextReleaseAsync();

        var response = await site.Client.PostAsync($"/api/instances/{id}/upgrade", null);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var upgraded = (await site.DriveUpgradeAsync()).Single(i => i.GetProperty("id").GetInt64() == id);

        upgraded.GetProperty("state").GetString().Should().Be("active", upgraded.GetProperty("error").ToString());
        upgraded.GetProperty("release").GetString().Should().Be(UpgradeSite.To);
        upgraded.GetProperty("node").GetString().Should().Be(target, "the instance card shows the guest's current node");
        var row = (await site.App.Service<Provisioner.Upgrade.UpgradeRepository>().LatestAsync(id, CancellationToken.None))!;
        row.Node.Should().Be(target, "the upgrade was recorded where the guest is now");
        site.Snapshots(vmid).Should().Equal(row.SnapshotName);
        sim.TaskLog.Where(t => t.Type == "vzsnapshot" && t.Id == vmid.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Should().ContainSingle().Which.Node.Should().Be(target);

        (await site.App.Service<Provisioner.Upgrade.SnapshotSweep>().SweepAsync(DateTimeOffset.UtcNow.AddDays(8), CancellationToken.None)).Should().BeGreaterThan(0);
        site.Snapshots(vmid).Should().BeEmpty("the sweep deletes the snapshot on the guest's node");
        sim.TaskLog.Where(t => t.Type == "vzdelsnapshot" && t.Id == vmid.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Should().ContainSingle().Which.Node.Should().Be(target);
    }

    [Fact]
    public async Task The_address_of_a_guest_Proxmox_moved_is_followed_on_its_new_node_and_its_node_is_recorded()
    {
        var settings = DeployApiTests.FastDemo();
        settings["Addressing:FollowIntervalSeconds"] = "0";
        settings["Simulator:Nodes"] = "pve,pve2";
        using var app = new ProvisionerApp(settings: settings, https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Moved lease");
        (await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "zwavejs" } })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var zwave = (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromMinutes(3))).Single();
        zwave.GetProperty("state").GetString().Should().Be("active", zwave.GetProperty("error").ToString());
        var (id, vmid) = (zwave.GetProperty("id").GetInt64(), zwave.GetProperty("vmid").GetInt32());
        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        var target = sim.State.Guest(vmid)!.Node == "pve" ? "pve2" : "pve";
        await MigrateAsync(sim, vmid, target);
        // A restart migration: the container boots again on its new node before its lease can change.
        await Eventually.TrueAsync(() => Task.FromResult(sim.ChangeLease(vmid, IPAddress.Parse("127.0.10.220")) == LeaseChange.Changed), "the migrated guest runs and gets a new lease");

        var round = await app.Service<AddressFollower>().FollowOnceAsync(CancellationToken.None);

        round.Moved.Should().ContainSingle().Which.InstanceId.Should().Be(id);
        var row = (await app.Service<InstanceRepository>().GetAsync(id, CancellationToken.None))!;
        row.Ip.Should().Be("127.0.10.220", "the guest agent's answer was read on the guest's new node");
        row.Node.Should().Be(target);
    }

    [Fact]
    public async Task An_action_on_a_guest_whose_node_is_off_the_network_fails_with_a_problem_naming_the_node_and_nothing_changes()
    {
        await using var site = await BackupSite.StartAsync(nodes: ["pve1", "pve2"]);
        var foreign = ForeignGuests.Capture(site.Pve.Sim);
        var own = await site.AddActiveGuestAsync(Guest);
        await MigrateAsync(site.Pve.Sim, Guest, "pve2");
        site.Pve.Sim.SetNodeOnline("pve2", online: false);
        var tasksBefore = site.Pve.Sim.TaskLog.Count;

        var response = await site.Client.PostAsync($"/api/instances/{own.Id}/stop", null);

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("title").GetString().Should().Be("Proxmox node offline");
        problem.GetProperty("node").GetString().Should().Be("pve2");
        problem.GetProperty("detail").GetString().Should().Contain("pve2").And.Contain("nothing was changed").And.NotContain("   at ");
        site.Pve.Sim.State.Guest(Guest)!.Running.Should().BeTrue("the guest keeps running on its node");
        site.Pve.Sim.TaskLog.Count.Should().Be(tasksBefore, "no task was started");
        var row = (await site.App.Service<InstanceRepository>().GetAsync(own.Id, CancellationToken.None))!;
        row.State.Should().Be(InstanceStates.Active);
        row.Node.Should().Be("pve2", "where Proxmox last showed the guest");
        foreign.ShouldBeUntouched(site.Pve.Sim);
    }

    [Fact]
    public async Task A_guest_gone_from_the_cluster_is_reported_missing_and_not_created_again()
    {
        await using var site = await BackupSite.StartAsync(nodes: ["pve1", "pve2"]);
        var own = await site.AddActiveGuestAsync(Guest);
        lock (site.Pve.Sim.State.Sync)
        {
            site.Pve.Sim.State.Guests.Remove(Guest);
        }

        var response = await site.Client.PostAsync($"/api/instances/{own.Id}/start", null);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString().Should().Contain($"no guest holds VMID {Guest}");
        site.Pve.Sim.State.Guest(Guest).Should().BeNull("the orchestrator never clones a missing guest again");
        site.Pve.Sim.TaskLog.Should().NotContain(t => t.Type == "vzclone" || t.Type == "qmclone");
    }

    private static async Task MigrateAsync(Ctrlable.PveSim.PveSimulator sim, int vmid, string target)
    {
        var (outcome, upid) = sim.Migrate(vmid, target);
        outcome.Should().Be(MigrationStart.Started);
        (await sim.Tasks.WaitAsync(upid!)).ExitStatus.Should().Be("OK");
        sim.State.Guest(vmid)!.Node.Should().Be(target);
    }
}
