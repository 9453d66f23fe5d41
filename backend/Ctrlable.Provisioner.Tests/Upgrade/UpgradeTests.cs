using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Alerts;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.Provisioner.Upgrade;
using Dapper;

namespace Ctrlable.Provisioner.Tests.Upgrade;

/// <summary>
/// A project deployed from one release is upgraded to the next (both built) through the API against the emulators:
/// Home Assistant through its Supervisor (OS, reboot, Core), Z-Wave JS UI by its guest's own update routine; each guest
/// gets its snapshot first; the sweep deletes only those snapshots, after Upgrades:KeepSnapshotDays.
/// </summary>
public sealed class UpgradeTests
{
    [Fact]
    public async Task A_project_upgrades_to_the_next_release_with_a_snapshot_of_each_guest_which_the_sweep_deletes_later()
    {
        using var site = await UpgradeSite.StartAsync("Upgrade");
        (await site.InstancesAsync()).Should().OnlyContain(i => i.GetProperty("upgrade").ValueKind == JsonValueKind.Null, "every instance runs the active release");

        await site.PublishNextReleaseAsync();

        var offered = await site.InstancesAsync();
        offered.Should().OnlyContain(i => i.GetProperty("upgrade").GetProperty("from").GetString() == UpgradeSite.From
            && i.GetProperty("upgrade").GetProperty("to").GetString() == UpgradeSite.To && i.GetProperty("upgrade").GetProperty("possible").GetBoolean(),
            string.Join("; ", offered.Select(i => i.GetProperty("upgrade").ToString())));
        var response = await site.Client.PostAsync($"/api/projects/{site.Project}/upgrade", null);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var started = await response.Content.ReadFromJsonAsync<JsonElement>();
        started.GetProperty("started").GetArrayLength().Should().Be(2);
        started.GetProperty("skipped").GetArrayLength().Should().Be(0);

        var upgraded = await site.DriveUpgradeAsync();

        upgraded.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active" && i.GetProperty("release").GetString() == UpgradeSite.To,
            string.Join("; ", upgraded.Select(i => $"{i.GetProperty("hostname")}: {i.GetProperty("message")} {i.GetProperty("error")}")));
        upgraded.Should().OnlyContain(i => i.GetProperty("upgrade").ValueKind == JsonValueKind.Null);
        var zwave = upgraded.Single(i => i.GetProperty("type").GetString() == "zwavejs");
        zwave.GetProperty("installedVersions").GetProperty("zwave-js-ui").GetString().Should().Be(UpgradeSite.ZwaveJsVersion);
        var pro = upgraded.Single(i => i.GetProperty("type").GetString() == "ctrlable-pro");
        var ha = site.Host.Simulator.HomeAssistant(UpgradeSite.Vmid(pro))!;
        ha.Versions.Core.Should().Be(UpgradeSite.CoreVersion);
        ha.Versions.Os.Should().Be(UpgradeSite.OsVersion);
        ha.State.ConfigEntries.Select(e => e.Domain).Should().Contain(["mqtt", "zwave_js"], "Home Assistant is still wired");

        // Each guest has the one snapshot its upgrade named; the history says what happened.
        var upgrades = site.App.Service<UpgradeRepository>();
        foreach (var instance in upgraded)
        {
            var row = (await upgrades.LatestAsync(instance.GetProperty("id").GetInt64(), CancellationToken.None))!;
            row.Outcome.Should().Be(UpgradeOutcomes.Upgraded);
            row.SnapshotName.Should().MatchRegex("^ctrlable-upgrade-2026-07-u[0-9]+$");
            site.Snapshots(UpgradeSite.Vmid(instance)).Should().Equal(row.SnapshotName);
            (await HistoryAsync(site, instance.GetProperty("id").GetInt64())).Should().ContainInOrder("active→upgrading", "upgrading→active");
        }

        // An admin's own snapshot of the same guest is not the orchestrator's: the sweep leaves it.
        var zwaveVmid = UpgradeSite.Vmid(zwave);
        lock (site.Host.Simulator.State.Sync)
        {
            var guest = site.Host.Simulator.State.Guest(zwaveVmid)!;
            guest.Snapshots.Add(new Ctrlable.PveSim.Guests.SimSnapshot("before-my-change", "the dealer's", 1, null, new Dictionary<string, string>(guest.Config)));
        }

        var sweep = site.App.Service<SnapshotSweep>();
        (await sweep.SweepAsync(DateTimeOffset.UtcNow, CancellationToken.None)).Should().Be(0, "the snapshots are kept for Upgrades:KeepSnapshotDays");
        (await sweep.SweepAsync(DateTimeOffset.UtcNow.AddDays(8), CancellationToken.None)).Should().Be(2);
        site.Snapshots(UpgradeSite.Vmid(pro)).Should().BeEmpty();
        site.Snapshots(zwaveVmid).Should().Equal("before-my-change");
    }

    [Fact]
    public async Task A_failed_update_rolls_each_guest_back_to_its_snapshot_says_why_and_alerts_until_a_retry_succeeds()
    {
        using var site = await UpgradeSite.StartAsync("Rollback");
        await using var sink = await HttpSink.StartAsync();
        using (var admin = await site.App.CreateClientAsync(Role.Admin))
        {
            await DeployAlertTests.CreateWebhookAsync(admin, sink, "upgrade failures");
        }

        var before = await site.InstancesAsync();
        var pro = before.Single(i => i.GetProperty("type").GetString() == "ctrlable-pro");
        var zwave = before.Single(i => i.GetProperty("type").GetString() == "zwavejs");
        var ha = site.Host.Simulator.HomeAssistant(UpgradeSite.Vmid(pro))!;
        var versionsBefore = ha.Versions;
        await site.PublishNextReleaseAsync();
        ha.FailNextCoreUpdate();
        site.Host.FirstBoot.FailUpdates(UpgradeSite.Vmid(zwave), "E: Unable to fetch some archives");

        (await site.Client.PostAsync($"/api/projects/{site.Project}/upgrade", null)).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var after = await site.DriveUpgradeAsync();

        after.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active" && i.GetProperty("release").GetString() == UpgradeSite.From,
            string.Join("; ", after.Select(i => $"{i.GetProperty("hostname")}: {i.GetProperty("message")} {i.GetProperty("error")}")));
        var proAfter = after.Single(i => i.GetProperty("type").GetString() == "ctrlable-pro");
        proAfter.GetProperty("message").GetString().Should().StartWith($"Upgrade to {UpgradeSite.To} failed: Home Assistant's Core update to {UpgradeSite.CoreVersion} failed: Downloading Home Assistant version {UpgradeSite.CoreVersion} failed").And.EndWith("; rolled back");
        var zwaveAfter = after.Single(i => i.GetProperty("type").GetString() == "zwavejs");
        zwaveAfter.GetProperty("message").GetString().Should().Contain("the guest's update failed").And.Contain("E: Unable to fetch some archives").And.EndWith("; rolled back");
        zwaveAfter.GetProperty("upgrade").GetProperty("possible").GetBoolean().Should().BeTrue("the upgrade can be tried again");

        // The snapshot brought back what was on the disks: Home Assistant's versions, the app's.
        await Eventually.TrueAsync(() => site.Host.Simulator.HomeAssistant(UpgradeSite.Vmid(pro))!.Versions == versionsBefore, "Home Assistant runs its old versions again");
        site.Host.Simulator.HomeAssistant(UpgradeSite.Vmid(pro))!.Versions.Should().Be(versionsBefore);
        var upgrades = site.App.Service<UpgradeRepository>();
        foreach (var instance in after)
        {
            var row = (await upgrades.LatestAsync(instance.GetProperty("id").GetInt64(), CancellationToken.None))!;
            row.Outcome.Should().Be(UpgradeOutcomes.RolledBack);
            row.RolledBackAt.Should().NotBeNull();
            site.Snapshots(UpgradeSite.Vmid(instance)).Should().Equal(row.SnapshotName);
            (await HistoryAsync(site, instance.GetProperty("id").GetInt64())).Should().ContainInOrder("active→upgrading", "upgrading→rolling-back", "rolling-back→active");
            site.Host.Simulator.State.Guest(UpgradeSite.Vmid(instance))!.Running.Should().BeTrue("it ran before the upgrade");
        }

        // Each failed upgrade is one warning (the guest runs its old release), and a retry that succeeds resolves it.
        foreach (var instance in after)
        {
            var alert = await NotificationAsync(sink, instance, "open");
            alert.GetProperty("event").GetString().Should().Be("upgrade-failed");
            alert.GetProperty("severity").GetString().Should().Be("warning");
            alert.GetProperty("title").GetString().Should().Be($"Upgrade of {instance.GetProperty("hostname").GetString()} failed");
            alert.GetProperty("detail").GetString().Should().EndWith("; rolled back");
        }

        site.Host.FirstBoot.FailUpdates(UpgradeSite.Vmid(zwave), null);
        (await site.Client.PostAsync($"/api/projects/{site.Project}/upgrade", null)).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var retried = await site.DriveUpgradeAsync();
        retried.Should().OnlyContain(i => i.GetProperty("release").GetString() == UpgradeSite.To, string.Join("; ", retried.Select(i => $"{i.GetProperty("hostname")}: {i.GetProperty("message")}")));
        foreach (var instance in retried)
        {
            (await NotificationAsync(sink, instance, "resolved")).GetProperty("event").GetString().Should().Be("upgrade-failed");
        }

        sink.Requests.Should().HaveCount(2 * after.Count, "one notice when each upgrade failed and one when it was resolved");
    }

    private static async Task<JsonElement> NotificationAsync(HttpSink sink, JsonElement instance, string state)
    {
        var subject = $"instance/{instance.GetProperty("id").GetInt64()}";
        bool Matches(SinkRequest r) => r.Json.GetProperty("subject").GetString() == subject && r.Json.GetProperty("state").GetString() == state;
        await Eventually.TrueAsync(() => sink.Requests.Any(Matches), $"the {state} notification of {subject}");
        return sink.Requests.Single(Matches).Json;
    }

    [Fact]
    public async Task Upgrades_are_refused_with_a_reason_when_the_instance_is_current_busy_or_has_no_update_routine()
    {
        using var site = await UpgradeSite.StartAsync("Refusals");
        var zwave = await site.InstanceAsync("zwavejs");

        var current = await site.Client.PostAsync($"/api/instances/{zwave.GetProperty("id").GetInt64()}/upgrade", null);
        current.StatusCode.Should().Be(HttpStatusCode.Conflict);
        current.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await current.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("already-current");
        var project = await site.Client.PostAsync($"/api/projects/{site.Project}/upgrade", null);
        (await project.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("already-current");

        await site.PublishNextReleaseAsync();
        using var viewer = await site.App.CreateClientAsync(Ctrlable.Provisioner.Auth.Role.Viewer);
        (await viewer.PostAsync($"/api/instances/{zwave.GetProperty("id").GetInt64()}/upgrade", null)).StatusCode.Should().Be(HttpStatusCode.Forbidden);

        var first = await site.Client.PostAsync($"/api/instances/{zwave.GetProperty("id").GetInt64()}/upgrade", null);
        first.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var busy = await site.Client.PostAsync($"/api/instances/{zwave.GetProperty("id").GetInt64()}/upgrade", null);
        busy.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await busy.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("busy");
        var delete = await site.Client.DeleteAsync($"/api/instances/{zwave.GetProperty("id").GetInt64()}");
        delete.StatusCode.Should().Be(HttpStatusCode.Conflict, "the upgrade owns the guest until it is active again");

        // Frigate and FreePBX have no update routine at the pinned commit.
        UpgradeOffers.OfferOf(Row("frigate"), UpgradeSite.To, new Dictionary<string, TemplateRow> { ["frigate"] = Template("frigate") }, null)!
            .Code.Should().Be("no-update-routine");
        UpgradeOffers.OfferOf(Row("zwavejs", firstboot: "3"), UpgradeSite.To, new Dictionary<string, TemplateRow> { ["zwavejs"] = Template("zwavejs") }, null)!
            .Code.Should().Be("guest-cannot-upgrade");
        UpgradeOffers.OfferOf(Row("zwavejs"), UpgradeSite.To, new Dictionary<string, TemplateRow>(), null)!.Code.Should().Be("no-template");
        UpgradeOffers.OfferOf(Row("ctrlable-pro", kind: "vm"), UpgradeSite.To, new Dictionary<string, TemplateRow> { ["ctrlable-pro"] = Template("ctrlable-pro") }, null)!
            .Code.Should().Be("no-target-version");
    }

    private static InstanceRow Row(string type, string firstboot = "4", string kind = "lxc") =>
        new(1, 1, 1, type, kind, $"site-{type}", 1000, 9001, "pve", null, null, InstanceStates.Active, UpgradeSite.From, null, "linked", null, null, null,
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, false, $"{{\"firstboot\":\"{firstboot}\"}}");

    private static TemplateRow Template(string name) => new(1, UpgradeSite.To, name, "lxc", 9001, "pve", "2026-05-30", null, null, DateTimeOffset.UtcNow);

    /// <summary>The instance's history as "from→to" per row.</summary>
    internal static async Task<List<string>> HistoryAsync(UpgradeSite site, long instanceId)
    {
        await using var connection = await site.App.Service<Database>().OpenAsync(CancellationToken.None);
        return [.. await connection.QueryAsync<string>("SELECT from_state || '→' || to_state FROM instance_state_changes WHERE instance_id = @instanceId ORDER BY id;", new { instanceId })];
    }
}
