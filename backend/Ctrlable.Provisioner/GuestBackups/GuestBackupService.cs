using System.Globalization;
using System.Text.Json;
using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.GuestBackups;

/// <summary>
/// Backs up a project's guests with Proxmox vzdump, keeps the configured number of its own archives per guest and lists
/// the last backup per guest (restoring one into a NEW guest is <see cref="GuestRestoreService"/>'s). Only guests proven
/// the orchestrator's (<see cref="GuestOwnership"/>: the instance's marker) are backed up; only archives carrying the
/// project's marker in their notes are ever removed (SPEC §8h).
/// </summary>
public sealed class GuestBackupService(
    GuestBackupRepository repository,
    InstanceRepository instances,
    GuestOwnership ownership,
    GuestLocator locator,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    AlertEvents alerts,
    IOptions<GuestBackupsOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<GuestBackupService> logger)
{
    /// <summary>Alert subject of a project's failed backups.</summary>
    public static string ProjectSubject(long projectId) => $"project/{projectId}";

    /// <summary>
    /// The notes vzdump writes into each archive (one line; Proxmox fills in the guest's name and VMID). The nonce is kept
    /// only in this orchestrator's database, so no other orchestrator's or admin's archive carries the marker by chance.
    /// </summary>
    public static string NotesTemplate(long projectId, string nonce) =>
        $"Ctrlable backup of {{{{guestname}}}} (VMID {{{{vmid}}}}), {Marker(projectId, nonce)}";

    /// <summary>"project #N [nonce]": what an archive's notes must carry to be the orchestrator's.</summary>
    public static string Marker(long projectId, string nonce) => $"project #{projectId} [{nonce}]";

    private TimeSpan TaskTimeout => TimeSpan.FromMinutes(options.Value.TaskTimeoutMinutes);

    // --- Backup runs ---------------------------------------------------------------------------------------------------

    /// <summary>"Back up now": records the run and runs it in the background; 409 while one of the project runs.</summary>
    public async Task<(BackupRunRow? Run, Refusal? Refusal)> BackUpNowAsync(long projectId, string? actor, CancellationToken ct)
    {
        var (project, settings, refusal) = WithBackups(projectId, await instances.GetProjectAsync(projectId, ct));
        if (refusal is not null)
        {
            return (null, refusal);
        }

        var run = await StartAsync(project!, settings!, slot: null, actor, ct);
        return run is null
            ? (null, new Refusal(409, "Backup running", $"A backup of project {projectId} is running; wait for it to end."))
            : (run, null);
    }

    /// <summary>
    /// The scheduler's entry: records the slot's run (the unique index makes a second attempt at the same slot a no-op)
    /// and runs it to its end. False when the slot had its run already.
    /// </summary>
    public async Task<bool> RunSlotAsync(ProjectRow project, BackupSettings settings, DateTimeOffset slot, CancellationToken ct)
    {
        var run = await repository.TryStartRunAsync(project.Id, slot, settings.Storage, settings.Retention.KeepLast, "schedule", ct);
        if (run is null)
        {
            return false;
        }

        await ExecuteAsync(run, project, ct);
        return true;
    }

    /// <summary>Runs found <c>running</c> at start (the process stopped during them): finished from their recorded tasks, never started again.</summary>
    public async Task ResumeInterruptedAsync(CancellationToken ct)
    {
        foreach (var run in await repository.ListRunningAsync(ct))
        {
            var project = await instances.GetProjectAsync(run.ProjectId, ct);
            var outcomes = new List<string>();
            var failed = false;
            foreach (var task in run.Tasks)
            {
                if (task.Upid is null)
                {
                    failed = true;
                    outcomes.Add($"The backup of VMID {string.Join(", ", task.Vmids)} on {task.Node} was interrupted before Proxmox confirmed it; it was not started again (the next slot backs them up).");
                    continue;
                }

                var (ok, text) = await WaitForVzdumpAsync(task, ct);
                failed |= !ok;
                outcomes.Add(text);
            }

            if (run.Tasks.Count == 0)
            {
                failed = true;
                outcomes.Add("The run was interrupted before any backup was requested; it was not started again (the next slot backs the guests up).");
            }

            await FinishAsync(run, project, !failed, string.Join(" ", outcomes), ct);
        }
    }

    private async Task<BackupRunRow?> StartAsync(ProjectRow project, BackupSettings settings, DateTimeOffset? slot, string? actor, CancellationToken ct)
    {
        var run = await repository.TryStartRunAsync(project.Id, slot, settings.Storage, settings.Retention.KeepLast, actor, ct);
        if (run is not null)
        {
            _ = Task.Run(() => ExecuteAsync(run, project, lifetime.ApplicationStopping), CancellationToken.None);
        }

        return run;
    }

    /// <summary>One run: the project's own guests (marker proven) per node, one vzdump each, awaited; then retention.</summary>
    private async Task ExecuteAsync(BackupRunRow run, ProjectRow project, CancellationToken ct)
    {
        try
        {
            var schedule = await repository.EnsureScheduleAsync(project.Id, ScheduleKey(SiteSettings.FromJson(project.SettingsJson).Backups), project.UpdatedAt, ct);
            var notes = new List<string>();
            var guests = new List<(InstanceRow Instance, ClusterResource Guest)>();
            foreach (var instance in (await instances.ListByProjectAsync(project.Id, includeDeleted: false, ct)).Where(i => i.State == InstanceStates.Active && i.Vmid is not null))
            {
                var (owner, guest) = await ownership.OwnerOfVmidAsync(instance, ct);
                if (owner == GuestOwner.Ours && guest?.Node is not null)
                {
                    // vzdump runs on the node the guest is on now; a guest Proxmox moved gets that node recorded.
                    guests.Add((await locator.FollowAsync(instance, guest, ct), guest));
                }
                else
                {
                    notes.Add(owner == GuestOwner.None
                        ? $"{instance.Hostname}: no guest at VMID {instance.Vmid}, nothing backed up."
                        : $"{instance.Hostname}: {GuestOwnership.NotOurs(instance.Vmid!.Value)}");
                }
            }

            if (guests.Count == 0)
            {
                await FinishAsync(run, project, true, string.Join(" ", notes.Prepend("No active guest of the project to back up.")), ct);
                return;
            }

            var entries = new List<BackupTaskEntry>();
            var failed = false;
            foreach (var group in guests.GroupBy(g => g.Guest.Node!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var vmidList = group.Select(g => g.Guest.Vmid!.Value).Order().ToList();
                // Recorded before the request: after a crash this entry without a UPID says "maybe started", never "start again".
                entries.Add(new BackupTaskEntry(group.Key, vmidList, null));
                await repository.SetTasksAsync(run.Id, entries, ct);
                string upid;
                try
                {
                    upid = await proxmox.VzdumpAsync(group.Key, vmidList, run.Storage, NotesTemplate(project.Id, schedule.Nonce), ct);
                }
                catch (ProxmoxException ex)
                {
                    failed = true;
                    notes.Add($"vzdump of VMID {string.Join(", ", vmidList)} on {group.Key} was refused: {ex.ProxmoxMessage.Trim()}");
                    entries[^1] = entries[^1] with { Upid = "" };
                    await repository.SetTasksAsync(run.Id, entries, ct);
                    continue;
                }

                entries[^1] = entries[^1] with { Upid = upid };
                await repository.SetTasksAsync(run.Id, entries, ct);
                var (ok, text) = await WaitForVzdumpAsync(entries[^1], ct);
                failed |= !ok;
                notes.Add(text);
            }

            notes.AddRange(await PruneAsync(project.Id, schedule.Nonce, run.Storage, (int)run.KeepLast, guests.Select(g => (g.Guest.Node!, g.Guest.Vmid!.Value)), ct));
            await FinishAsync(run, project, !failed, string.Join(" ", notes), ct);
        }
        catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException or JsonException)
        {
            logger.LogWarning(ex, "Backup run {Run} of project {Project} failed", run.Id, project.Id);
            await FinishAsync(run, project, false, $"The backup could not be made: {ex.Message}", CancellationToken.None);
        }
    }

    private async Task<(bool Ok, string Text)> WaitForVzdumpAsync(BackupTaskEntry task, CancellationToken ct)
    {
        if (task.Upid is not { Length: > 0 } upid)
        {
            return (false, $"vzdump of VMID {string.Join(", ", task.Vmids)} on {task.Node} was not started.");
        }

        try
        {
            var outcome = await tasks.WaitAsync(task.Node, upid, TaskTimeout, ct);
            if (outcome.Succeeded)
            {
                return (true, $"Backed up VMID {string.Join(", ", task.Vmids)} on {task.Node}.");
            }

            // vzdump logs one "ERROR: Backup of VM N failed - why" per guest; its exit status only says "job errors".
            var errors = outcome.LogTail.Where(l => l.StartsWith("ERROR:", StringComparison.Ordinal)).Select(l => l["ERROR:".Length..].Trim()).ToList();
            return (false, $"vzdump on {task.Node} failed: {(errors.Count > 0 ? string.Join("; ", errors) : outcome.Describe())}");
        }
        catch (TimeoutException ex)
        {
            return (false, ex.Message);
        }
    }

    /// <summary>
    /// Keeps the newest <paramref name="keepLast"/> archives of each guest that carry the project's marker and removes
    /// older ones of those only; an archive without the marker (an admin's own backup of the guest) is never touched.
    /// </summary>
    private async Task<IReadOnlyList<string>> PruneAsync(long projectId, string nonce, string storage, int keepLast, IEnumerable<(string Node, int Vmid)> guests, CancellationToken ct)
    {
        var notes = new List<string>();
        var marker = Marker(projectId, nonce);
        foreach (var (node, vmid) in guests)
        {
            try
            {
                var ours = (await proxmox.GetBackupsAsync(node, storage, vmid, ct))
                    .Where(b => b.Vmid == vmid && b.Notes?.Contains(marker, StringComparison.Ordinal) == true && b.Protected != true)
                    .OrderByDescending(b => b.Ctime ?? 0).ThenByDescending(b => b.Volid, StringComparer.Ordinal)
                    .Skip(keepLast).ToList();
                foreach (var old in ours)
                {
                    if (await proxmox.DeleteVolumeAsync(node, storage, old.Volid, ct) is { Length: > 0 } upid)
                    {
                        await tasks.WaitAsync(node, upid, TaskTimeout, ct);
                    }
                }

                if (ours.Count > 0)
                {
                    notes.Add($"Removed {ours.Count} older backup(s) of VMID {vmid} (keeping {keepLast}).");
                }
            }
            catch (ProxmoxException ex)
            {
                notes.Add($"Older backups of VMID {vmid} could not be removed: {ex.ProxmoxMessage.Trim()}");
            }
        }

        return notes;
    }

    private async Task FinishAsync(BackupRunRow run, ProjectRow? project, bool succeeded, string message, CancellationToken ct)
    {
        await repository.FinishRunAsync(run.Id, succeeded, message, succeeded ? null : message, ct);
        var subject = ProjectSubject(run.ProjectId);
        if (succeeded)
        {
            logger.LogInformation("Backup run {Run} of project {Project} succeeded: {Message}", run.Id, run.ProjectId, message);
            await alerts.ResolveAsync(AlertKinds.BackupFailed, subject, "The project's guests were backed up again.", ct);
            return;
        }

        logger.LogWarning("Backup run {Run} of project {Project} failed: {Message}", run.Id, run.ProjectId, message);
        await alerts.RaiseAsync(new Incident(AlertKinds.BackupFailed, subject, AlertSeverities.Critical,
            $"Backup of {project?.Name ?? $"project {run.ProjectId}"} failed", message)
        {
            ProjectId = run.ProjectId,
            ProjectName = project?.Name,
            LinkPath = $"/projects/{run.ProjectId}",
        }, ct);
    }

    // --- Last backups and "missing" ----------------------------------------------------------------------------------

    /// <summary>The project's backups: schedule, runs, each live guest's last archive of the orchestrator's (and whether one is missing), restores.</summary>
    public async Task<(ProjectBackups? Backups, Refusal? Refusal)> ListAsync(long projectId, CancellationToken ct)
    {
        var project = await instances.GetProjectAsync(projectId, ct);
        if (project is null)
        {
            return (null, ProjectService.NotFound(projectId));
        }

        var settings = SiteSettings.FromJson(project.SettingsJson).Backups;
        var runs = (await repository.ListRunsAsync(projectId, 10, ct)).Select(BackupRunView.Of).ToList();
        var restores = (await repository.ListRestoresAsync(projectId, ct)).Select(GuestRestoreView.Of).ToList();
        if (settings is null)
        {
            return (new ProjectBackups(null, null, null, time.LocalTimeZone.Id, [], runs, restores, null), null);
        }

        // Reading the panel writes nothing: before the scheduler has seen this schedule it holds since its settings were saved.
        var key = ScheduleKey(settings);
        var seen = await repository.GetScheduleAsync(projectId, ct);
        var schedule = seen is not null && seen.Schedule == key ? seen : new BackupScheduleRow(projectId, key, project.UpdatedAt, seen?.Nonce ?? "");
        var now = time.GetUtcNow();
        // A slot that has come but not run yet is still the next run (the scheduler starts it within its interval):
        // the panel keeps looking for it instead of showing tomorrow's slot as if this one were done.
        var due = BackupSlots.LatestAtOrBefore(settings.Schedule, now, time.LocalTimeZone);
        var next = due >= schedule.Since && !await repository.HasRunForSlotAsync(projectId, due, ct)
            ? due
            : BackupSlots.NextAfter(settings.Schedule, now, time.LocalTimeZone);
        string? problem = null;
        IReadOnlyList<GuestBackupView> guests;
        try
        {
            guests = await GuestViewsAsync(project, settings, schedule, now, ct);
        }
        catch (Exception ex) when (ex is ProxmoxException or HttpRequestException)
        {
            problem = $"The backups could not be listed: {ex.Message}";
            guests = [];
        }

        return (new ProjectBackups(settings, BackupSlots.Describe(settings.Schedule), next, time.LocalTimeZone.Id, guests, runs, restores, problem), null);
    }

    /// <summary>Raises "backup missing" for each guest whose last backup is older than the schedule allows, and resolves it once one is there.</summary>
    public async Task CheckMissingAsync(ProjectRow project, BackupSettings settings, CancellationToken ct)
    {
        var schedule = await repository.EnsureScheduleAsync(project.Id, ScheduleKey(settings), project.UpdatedAt, ct);
        foreach (var guest in await GuestViewsAsync(project, settings, schedule, time.GetUtcNow(), ct))
        {
            var subject = $"instance/{guest.InstanceId}";
            if (guest.Missing)
            {
                await alerts.RaiseAsync(new Incident(AlertKinds.BackupMissing, subject, AlertSeverities.Warning, $"Backup of {guest.Hostname} missing",
                    guest.LastBackup is { } last
                        ? $"The last backup of {guest.Hostname} (VMID {guest.Vmid}) on {settings.Storage} is from {last.CreatedAt:yyyy-MM-dd HH:mm} UTC; the schedule ({BackupSlots.Describe(settings.Schedule)}) wants a newer one."
                        : $"{guest.Hostname} (VMID {guest.Vmid}) has no backup on {settings.Storage} although the schedule ({BackupSlots.Describe(settings.Schedule)}) wants one.")
                {
                    ProjectId = project.Id,
                    ProjectName = project.Name,
                    InstanceId = guest.InstanceId,
                    InstanceName = guest.Hostname,
                    LinkPath = $"/projects/{project.Id}",
                }, ct);
            }
            else if (guest.LastBackup is not null)
            {
                await alerts.ResolveAsync(AlertKinds.BackupMissing, subject, $"{guest.Hostname} was backed up.", ct);
            }
        }
    }

    private async Task<IReadOnlyList<GuestBackupView>> GuestViewsAsync(ProjectRow project, BackupSettings settings, BackupScheduleRow schedule, DateTimeOffset now, CancellationToken ct)
    {
        // Each guest's archives are listed on the node it is on now (a local backup storage holds them there).
        var live = (await locator.LocateAllAsync((await instances.ListByProjectAsync(project.Id, includeDeleted: false, ct)).Where(i => i.Vmid is not null && i.Node is not null).ToList(), ct)).ToList();
        var marker = Marker(project.Id, schedule.Nonce);
        // The slot a backup should exist from: the latest one that ended its grace, if the schedule held then.
        var expected = BackupSlots.LatestAtOrBefore(settings.Schedule, now - TimeSpan.FromMinutes(options.Value.MissingGraceMinutes), time.LocalTimeZone);
        var views = new List<GuestBackupView>();
        foreach (var node in live.GroupBy(i => i.Node!, StringComparer.Ordinal))
        {
            var archives = (await proxmox.GetBackupsAsync(node.Key, settings.Storage, null, ct))
                .Where(b => b.Notes?.Contains(marker, StringComparison.Ordinal) == true && b.Vmid is not null)
                .ToLookup(b => b.Vmid!.Value);
            foreach (var instance in node)
            {
                var own = archives[(int)instance.Vmid!.Value].OrderByDescending(b => b.Ctime ?? 0).ThenByDescending(b => b.Volid, StringComparer.Ordinal).ToList();
                var last = own.FirstOrDefault() is { } b
                    ? new BackupArchiveView(b.Volid, DateTimeOffset.FromUnixTimeSeconds(b.Ctime ?? 0), b.Size, b.Notes)
                    : null;
                var due = expected >= schedule.Since && instance.State == InstanceStates.Active && instance.CreatedAt <= expected;
                var missing = due && (last is null || last.CreatedAt < expected);
                views.Add(new GuestBackupView(instance.Id, instance.Hostname, instance.Type, instance.Vmid.Value, last, own.Count, missing,
                    [.. own.Select(a => new BackupArchiveView(a.Volid, DateTimeOffset.FromUnixTimeSeconds(a.Ctime ?? 0), a.Size, a.Notes))]));
            }
        }

        return [.. views.OrderBy(v => v.Hostname, StringComparer.Ordinal)];
    }

    // --- Helpers -----------------------------------------------------------------------------------------------------

    /// <summary>The project and its backup settings; 404 without the project, 409 when it has no backup settings.</summary>
    internal static (ProjectRow? Project, BackupSettings? Settings, Refusal? Refusal) WithBackups(long projectId, ProjectRow? project)
    {
        if (project is null)
        {
            return (null, null, ProjectService.NotFound(projectId));
        }

        return SiteSettings.FromJson(project.SettingsJson).Backups is { } settings
            ? (project, settings, null)
            : (null, null, new Refusal(409, "Backups not set up", $"Project {projectId} has no backup settings: choose a schedule, storage and retention in its settings first.", Extensions: new Dictionary<string, object?> { ["code"] = "backups-not-configured" }));
    }

    /// <summary>What makes a schedule "the same" for <c>since</c>: frequency, day and time (storage and retention may change freely).</summary>
    public static string ScheduleKey(BackupSettings? settings) => settings is null
        ? "none"
        : string.Create(CultureInfo.InvariantCulture, $"{settings.Schedule.Frequency}|{settings.Schedule.Day}|{settings.Schedule.Time}");
}
