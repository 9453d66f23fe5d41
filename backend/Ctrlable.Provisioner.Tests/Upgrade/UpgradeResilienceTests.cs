using System.Net.Http.Json;
using Ctrlable.HaSim.Backups;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.Provisioner.Upgrade;

namespace Ctrlable.Provisioner.Tests.Upgrade;

/// <summary>
/// Upgrades against an emulator that outlives the orchestrator, as the deploy's crash tests (DeployResilienceTests): the
/// orchestrator is stopped at each point of Home Assistant's upgrade in turn — after a snapshot was asked for but not
/// recorded, after it was taken, after Supervisor was asked for Core's update, after the update, after the health check,
/// after the upgrade was recorded but before the instance moved; on the failing path after the rollback was asked for and
/// after it ended — and started again on the same database. It converges: active on the new release (or, rolled back, on
/// the old one), one snapshot on the guest (the one recorded), the other admin's guests untouched.
/// </summary>
public sealed class UpgradeResilienceTests
{
    private const string To = "2026.07";
    private const string CoreVersion = "2025.5.0";

    [Theory]
    [InlineData(UpgradePipeline.SnapshotRequested)]
    [InlineData(UpgradePipeline.SnapshotTaken)]
    [InlineData(HomeAssistantUpgrade.CoreUpdateRequested)]
    [InlineData(UpgradePipeline.Applied)]
    [InlineData(UpgradePipeline.Healthy)]
    [InlineData(UpgradePipeline.Recorded)]
    public Task Stopped_at_any_point_of_an_upgrade_it_converges_after_restart_with_one_snapshot(string point) =>
        StoppedAtPointConvergesAsync(point, fail: false);

    [Theory]
    [InlineData(UpgradePipeline.RollbackRequested)]
    [InlineData(UpgradePipeline.RolledBack)]
    public Task Stopped_while_rolling_back_it_converges_after_restart_on_the_old_release(string point) =>
        StoppedAtPointConvergesAsync(point, fail: true);

    private static async Task StoppedAtPointConvergesAsync(string point, bool fail)
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var data = TempDirectory.Create("upgrade-crash");
        var port = TestPorts.Free();
        var crash = new DeployResilienceTests.CrashAt(point);
        long id;
        int vmid;
        await using (var first = await DeployResilienceTests.StartAsync(pve, data, crash, boot, port))
        {
            using var client = await first.App.CreateClientAsync(Role.Operator);
            var project = await DeployApiTests.CreateProjectAsync(client, "Crash");
            (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "ctrlable-pro" })).EnsureSuccessStatusCode();
            var deployed = (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();
            deployed.GetProperty("state").GetString().Should().Be("active", deployed.GetProperty("error").ToString());
            id = deployed.GetProperty("id").GetInt64();
            vmid = deployed.GetProperty("vmid").GetInt32();
            await PublishAsync(first.App);
            if (fail)
            {
                pve.Sim.HomeAssistant(vmid)!.FailNextCoreUpdate();
            }

            (await client.PostAsync($"/api/instances/{id}/upgrade", null)).EnsureSuccessStatusCode();
            (await Task.WhenAny(crash.Reached.Task, Task.Delay(TimeSpan.FromSeconds(90)))).Should().Be(crash.Reached.Task, $"the upgrade should reach {point}");
        }

        await using var second = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, port);
        using var again = await second.App.CreateClientAsync(Role.Operator);
        var instance = await DeployApiTests.WaitForInstanceAsync(again, id, i => i.GetProperty("state").GetString() is "active" or "failed");

        instance.GetProperty("state").GetString().Should().Be("active", $"{instance.GetProperty("message")} {instance.GetProperty("error")} (stopped at {point})");
        instance.GetProperty("release").GetString().Should().Be(fail ? "2026.06" : To, instance.GetProperty("message").ToString());
        var row = (await second.App.Service<UpgradeRepository>().LatestAsync(id, CancellationToken.None))!;
        row.Outcome.Should().Be(fail ? UpgradeOutcomes.RolledBack : UpgradeOutcomes.Upgraded);
        lock (pve.Sim.State.Sync)
        {
            pve.Sim.State.Guest(vmid)!.Snapshots.Select(s => s.Name).Should().Equal([row.SnapshotName], "one snapshot, the one the upgrade recorded");
            pve.Sim.State.Guest(vmid)!.Running.Should().BeTrue();
        }

        pve.Sim.TaskLog.Count(t => t.Type == "qmsnapshot").Should().Be(1, "the snapshot was taken once");
        var core = pve.Sim.HomeAssistant(vmid)!.Versions.Core;
        core.Should().Be(fail ? "2025.4.4" : CoreVersion);
        foreign.ShouldBeUntouched(pve.Sim, $"(stopped at {point})");
        TempDirectory.TryDelete(data);
    }

    /// <summary>Release 2026.07 built (its ctrlable-pro template is the harness's) with a base backup made on Core 2025.5.0.</summary>
    private static async Task PublishAsync(ProvisionerApp app)
    {
        var now = DateTimeOffset.UtcNow;
        await app.Service<ReleaseRepository>().ActivateAsync(To, "2026-05-30", null,
            [new TemplateRow(0, To, "ctrlable-pro", "vm", ProxmoxHarness.QemuTemplate, "pve1", "2026-05-30", null, null, now)], now, CancellationToken.None);
        await TestBaseBackup.StoreAsync(app, To, HaBaseBackup.Create(TestBaseBackup.Spec() with { HomeAssistantVersion = CoreVersion }));
    }
}
