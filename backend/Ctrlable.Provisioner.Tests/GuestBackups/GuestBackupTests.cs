using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.GuestBackups;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Faults;

namespace Ctrlable.Provisioner.Tests.GuestBackups;

/// <summary>
/// Per-project guest backups through vzdump (SPEC §8h): on the schedule (a clock jumped to the slot), only the
/// orchestrator's own guests, retention that removes only its own archives, a failed vzdump shown and alerted, a
/// restore into a new guest that leaves the original and everyone else's guests alone, and no second run after a crash.
/// </summary>
public sealed class GuestBackupTests
{
    private const int Guest = 1001;

    [Fact]
    public async Task A_scheduled_backup_runs_at_its_slot_for_the_project_s_own_guests_only_and_is_listed()
    {
        await using var site = await BackupSite.StartAsync();
        var foreign = ForeignGuests.Capture(site.Pve.Sim);
        var own = await site.AddActiveGuestAsync(Guest);

        // The schedule is seen before its slot: nothing runs yet.
        var before = await site.BackupsAsync();
        before.GetProperty("schedule").GetString().Should().Be("daily at 03:00");
        before.GetProperty("nextRunAt").GetDateTimeOffset().Should().Be(BackupSite.Slot);
        before.GetProperty("runs").GetArrayLength().Should().Be(0);

        site.Clock.JumpTo(BackupSite.Slot.AddSeconds(5));
        var run = await site.WaitForRunEndAsync();

        run.GetProperty("state").GetString().Should().Be("succeeded", run.GetProperty("message").GetString());
        run.GetProperty("slot").GetDateTimeOffset().Should().Be(BackupSite.Slot);
        var guest = (await site.BackupsAsync()).GetProperty("guests").EnumerateArray().Single();
        guest.GetProperty("instanceId").GetInt64().Should().Be(own.Id);
        guest.GetProperty("missing").GetBoolean().Should().BeFalse();
        var last = guest.GetProperty("lastBackup");
        last.GetProperty("volid").GetString().Should().StartWith($"local:backup/vzdump-lxc-{Guest}-");
        last.GetProperty("size").GetInt64().Should().BePositive();
        last.GetProperty("notes").GetString().Should().Contain(own.Hostname).And.Contain($"project #{site.ProjectId} [");

        // One vzdump, of the project's guest only; the other admin's guests (two in the product's pool) untouched.
        var dumps = site.Pve.Sim.TaskLog.Where(t => t.Type == "vzdump").ToList();
        dumps.Should().ContainSingle().Which.Id.Should().Be(Guest.ToString(System.Globalization.CultureInfo.InvariantCulture));
        lock (site.Pve.Sim.State.Sync)
        {
            site.Pve.Sim.State.Storages["local"].Files.Values.Where(f => f.ContentType == "backup").Select(f => f.Vmid).Should().Equal(Guest);
        }

        foreign.ShouldBeUntouched(site.Pve.Sim);

        // The slot has its run: later rounds do not run it again.
        await site.App.Service<GuestBackupScheduler>().RoundAsync(CancellationToken.None);
        site.Pve.Sim.TaskLog.Count(t => t.Type == "vzdump").Should().Be(1);
    }

    [Fact]
    public async Task A_schedule_the_scheduler_first_sees_after_its_slot_still_runs_that_slot_and_reading_the_panel_writes_nothing()
    {
        // The scheduler looks once an hour here, so its first look at the schedule saved before 03:00 comes after it.
        await using var site = await BackupSite.StartAsync(checkIntervalSeconds: 3600);
        await site.AddActiveGuestAsync(Guest);

        var panel = await site.BackupsAsync();
        panel.GetProperty("nextRunAt").GetDateTimeOffset().Should().Be(BackupSite.Slot);
        panel.GetProperty("timeZone").GetString().Should().Be("UTC", "the zone its times of day are in: the orchestrator's");
        (await site.App.Service<GuestBackupRepository>().GetScheduleAsync(site.ProjectId, CancellationToken.None)).Should().BeNull("a GET changes nothing");

        site.Clock.JumpTo(BackupSite.Slot.AddMinutes(2));
        (await site.BackupsAsync()).GetProperty("nextRunAt").GetDateTimeOffset().Should().Be(BackupSite.Slot,
            "a slot that has come without its run is still the next run, so the panel keeps looking for it");
        await site.App.Service<GuestBackupScheduler>().RoundAsync(CancellationToken.None);

        var run = await site.WaitForRunEndAsync();
        run.GetProperty("slot").GetDateTimeOffset().Should().Be(BackupSite.Slot, "the schedule held from when it was saved, not from when the scheduler first saw it");
        run.GetProperty("state").GetString().Should().Be("succeeded", run.GetProperty("message").GetString());
        (await site.BackupsAsync()).GetProperty("nextRunAt").GetDateTimeOffset().Should().Be(BackupSite.Slot.AddDays(1), "once it ran, the next is tomorrow's");
    }

    [Fact]
    public async Task Retention_keeps_the_newest_of_its_own_backups_and_never_removes_an_admin_s_backup_of_the_guest()
    {
        await using var site = await BackupSite.StartAsync(keepLast: 2);
        await site.AddActiveGuestAsync(Guest);
        var admins = new StoredVolume($"local:backup/vzdump-lxc-{Guest}-2031_01_01-00_00_00.tar.zst", "backup", "tar.zst", 1 << 20, 1_925_000_000, Guest, "before the upgrade (the admin's)");
        lock (site.Pve.Sim.State.Sync)
        {
            site.Pve.Sim.State.Storages["local"].Files[admins.VolId] = admins;
        }

        var made = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            // A backup per second of the clock: each gets its own name.
            site.Clock.JumpTo(BackupSite.BeforeSlot.AddMinutes(-50 + i));
            (await site.BackUpNowAsync(i)).GetProperty("state").GetString().Should().Be("succeeded");
            made.Add((await site.BackupsAsync()).GetProperty("guests")[0].GetProperty("lastBackup").GetProperty("volid").GetString()!);
        }

        List<string> left;
        lock (site.Pve.Sim.State.Sync)
        {
            left = [.. site.Pve.Sim.State.Storages["local"].Files.Values.Where(f => f.ContentType == "backup").Select(f => f.VolId)];
        }

        left.Should().BeEquivalentTo([admins.VolId, made[1], made[2]], "the two newest of its own stay, the oldest of its own goes, the admin's is not its to remove");
        var guest = (await site.BackupsAsync()).GetProperty("guests")[0];
        guest.GetProperty("count").GetInt32().Should().Be(2);
        guest.GetProperty("archives").EnumerateArray().Select(a => a.GetProperty("volid").GetString()).Should().Equal(made[2], made[1]);
    }

    [Fact]
    public async Task A_failed_vzdump_task_is_shown_on_the_run_and_raises_a_backup_failed_alert_which_a_good_run_resolves()
    {
        await using var site = await BackupSite.StartAsync();
        await site.AddActiveGuestAsync(Guest);
        site.Pve.Sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = "vma_queue_write: write error - No space left on device", PathPattern = "/vzdump" };

        var failed = await site.BackUpNowAsync(0);

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("error").GetString().Should().Contain($"Backup of VM {Guest} failed - vma_queue_write: write error - No space left on device");
        var subject = GuestBackupService.ProjectSubject(site.ProjectId);
        var alerts = site.App.Service<AlertEvents>();
        await Eventually.TrueAsync(() => alerts.IsOpenAsync(AlertKinds.BackupFailed, subject, CancellationToken.None), "backup-failed is open");

        site.Pve.Sim.Faults.Reset();
        (await site.BackUpNowAsync(1)).GetProperty("state").GetString().Should().Be("succeeded");
        await Eventually.TrueAsync(async () => !await alerts.IsOpenAsync(AlertKinds.BackupFailed, subject, CancellationToken.None), "backup-failed is resolved");
    }

    [Fact]
    public async Task Restore_makes_a_new_guest_with_its_own_marker_and_leaves_the_original_and_foreign_guests_untouched()
    {
        await using var site = await BackupSite.StartAsync();
        var own = await site.AddActiveGuestAsync(Guest);
        (await site.BackUpNowAsync(0)).GetProperty("state").GetString().Should().Be("succeeded");
        var volid = (await site.BackupsAsync()).GetProperty("guests")[0].GetProperty("lastBackup").GetProperty("volid").GetString()!;
        var untouched = ForeignGuests.Capture(site.Pve.Sim, [.. ForeignGuests.Vmids, ProxmoxHarness.ForeignGuest, Guest]);

        var response = await site.Client.PostAsJsonAsync($"/api/projects/{site.ProjectId}/backups/restore", new { instanceId = own.Id, volid });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        JsonElement restore = default;
        await Eventually.TrueAsync(async () =>
        {
            restore = (await site.BackupsAsync()).GetProperty("restores")[0];
            return restore.GetProperty("state").GetString() != "restoring";
        }, "the restore ended");

        restore.GetProperty("state").GetString().Should().Be("restored", restore.GetProperty("error").ToString());
        var vmid = restore.GetProperty("vmid").GetInt32();
        vmid.Should().NotBe(Guest);
        untouched.ShouldBeUntouched(site.Pve.Sim, "(a restore makes a new guest)");
        lock (site.Pve.Sim.State.Sync)
        {
            var state = site.Pve.Sim.State;
            var original = state.Guests[Guest];
            var restored = state.Guests[vmid];
            restored.Running.Should().BeFalse("the dealer decides when the restored guest runs");
            restored.Lock.Should().BeNull();
            state.Access.PoolOf(vmid).Should().Be("ctrlable");
            restored.Config["description"].Should().Contain($"restore #{restore.GetProperty("id").GetInt64()} [").And.NotContain(GuestOwnership(own));
            restored.Config["net0"].Should().NotBe(original.Config["net0"], "unique=1 gives the new guest its own MAC");
            restored.Config["rootfs"].Should().Contain($"vm-{vmid}-disk-0");
        }
    }

    [Fact]
    public async Task A_backup_not_the_orchestrator_s_or_not_the_guest_s_is_not_restored()
    {
        await using var site = await BackupSite.StartAsync();
        var own = await site.AddActiveGuestAsync(Guest);
        var admins = new StoredVolume($"local:backup/vzdump-lxc-{Guest}-2031_01_01-00_00_00.tar.zst", "backup", "tar.zst", 1 << 20, 1_925_000_000, Guest, "the admin's");
        lock (site.Pve.Sim.State.Sync)
        {
            site.Pve.Sim.State.Storages["local"].Files[admins.VolId] = admins;
        }

        var response = await site.Client.PostAsJsonAsync($"/api/projects/{site.ProjectId}/backups/restore", new { instanceId = own.Id, volid = admins.VolId });
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("is not one of the orchestrator's backups");

        var invalid = await site.Client.PostAsJsonAsync($"/api/projects/{site.ProjectId}/backups/restore", new { instanceId = 0, volid = "../etc/passwd" });
        invalid.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        errors.TryGetProperty("instanceId", out _).Should().BeTrue();
        errors.TryGetProperty("volid", out _).Should().BeTrue();
        site.Pve.Sim.TaskLog.Should().NotContain(t => t.Type == "vzrestore" || t.Type == "qmrestore");
    }

    [Fact]
    public async Task A_run_interrupted_by_a_stop_is_finished_from_its_recorded_task_after_the_restart_and_never_run_twice()
    {
        await using var site = await BackupSite.StartAsync();
        await site.AddActiveGuestAsync(Guest);
        await site.BackupsAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        site.Pve.Sim.Tasks.Gate = t => t.Upid.Type == "vzdump" ? release.Task : Task.CompletedTask;

        site.Clock.JumpTo(BackupSite.Slot.AddSeconds(5));
        await Eventually.TrueAsync(async () =>
        {
            var runs = (await site.BackupsAsync()).GetProperty("runs");
            return runs.GetArrayLength() == 1 && site.Pve.Sim.TaskLog.Any(t => t.Type == "vzdump");
        }, "the slot's vzdump started");
        var repository = site.App.Service<GuestBackupRepository>();
        await Eventually.TrueAsync(async () => (await repository.ListRunningAsync(CancellationToken.None)).Single().Tasks.Single().Upid is { Length: > 0 }, "the UPID was recorded");

        await site.StopAppAsync();
        await site.StartAppAsync();
        release.SetResult();

        var run = await site.WaitForRunEndAsync();
        run.GetProperty("state").GetString().Should().Be("succeeded", run.GetProperty("message").GetString());
        (await site.BackupsAsync()).GetProperty("runs").GetArrayLength().Should().Be(1, "the slot's run was finished, not started again");
        await site.App.Service<GuestBackupScheduler>().RoundAsync(CancellationToken.None);
        site.Pve.Sim.TaskLog.Count(t => t.Type == "vzdump").Should().Be(1);
    }

    [Fact]
    public async Task Backup_settings_are_validated_the_storage_is_checked_with_proxmox_and_get_then_put_round_trips()
    {
        await using var site = await BackupSite.StartAsync();
        var project = await site.Client.GetFromJsonAsync<JsonElement>($"/api/projects/{site.ProjectId}");
        var settings = project.GetProperty("settings");
        settings.GetProperty("backups").GetProperty("schedule").GetProperty("frequency").GetString().Should().Be("daily");

        // GET → PUT unchanged: 200, nothing lost.
        var same = await site.Client.PutAsJsonAsync($"/api/projects/{site.ProjectId}", new { name = "Backed up", settings });
        same.StatusCode.Should().Be(HttpStatusCode.OK, await same.Content.ReadAsStringAsync());
        (await same.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("settings").GetProperty("backups").ToString().Should().Be(settings.GetProperty("backups").ToString());

        // Every field error at once.
        var bad = await site.Client.PutAsJsonAsync($"/api/projects/{site.ProjectId}", new
        {
            name = "Backed up",
            settings = new { backups = new { schedule = new { frequency = "weekly", time = "25:00" }, storage = "no such!", retention = new { keepLast = 0 } } },
        });
        bad.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
        errors.Should().BeEquivalentTo(["settings.backups.schedule.time", "settings.backups.schedule.day", "settings.backups.storage", "settings.backups.retention.keepLast"]);

        // A storage Proxmox shows without backup content: refused at the field, with what it holds.
        var noBackups = await site.Client.PutAsJsonAsync($"/api/projects/{site.ProjectId}", new
        {
            name = "Backed up",
            settings = new { backups = new { schedule = new { frequency = "daily", time = "03:00" }, storage = "local-lvm", retention = new { keepLast = 3 } } },
        });
        noBackups.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await noBackups.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("settings.backups.storage")[0].GetString()
            .Should().Contain("does not hold backups (its content is rootdir,images)");
    }

    private static string GuestOwnership(Ctrlable.Provisioner.State.InstanceRow instance) => Ctrlable.Provisioner.Deploy.GuestOwnership.Marker(instance);
}
