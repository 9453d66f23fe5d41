using System.Net;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>Home Assistant step "restoring": the release's base backup (a per-site copy) restored during onboarding.</summary>
public sealed class RestorePhase(
    PhaseSupport support,
    HomeAssistantRepository sites,
    HomeAssistantClient ha,
    BaseBackupStore baseBackups,
    ReleaseCatalog catalog,
    InstanceSteps steps,
    IOptions<StorageOptions> storage,
    TimeProvider time,
    ILogger<RestorePhase> logger)
{
    /// <summary>
    /// Uploads the site's copy of the base backup and restores it through the onboarding backup endpoints, then waits as
    /// Home Assistant's frontend does: Core goes away, comes back onboarded (no onboarding views) with /auth/providers answering.
    /// </summary>
    public async Task RunAsync(InstanceRow instance, CancellationToken ct)
    {
        var deadline = await support.DeadlineAsync(instance, support.Options.RestoreTimeoutSeconds, ct);
        var requests = 0;
        DateTimeOffset? requestedAt = null;
        while (await support.CurrentAsync(instance, ct) is { } current)
        {
            // The recorded deadline is the step's, read each round as a retry after a lost connection reads it.
            deadline = current.DeadlineAt ?? deadline;
            var site = await sites.GetAsync(instance.Id, ct);
            var url = await support.UrlAsync(instance, ct);
            var status = await ha.GetOnboardingAsync(url, ct);
            var restoring = site.RestoreRequestedAt is not null;
            switch (status.Phase)
            {
                case OnboardingPhase.Onboarded:
                    if (await ha.GetAuthProvidersAsync(url, ct) is not null)
                    {
                        await sites.SetRestoredAsync(instance.Id, ct);
                        await support.NextAsync(instance, InstanceStates.Securing, "Base backup restored; signing in", support.Options.RequestTimeoutSeconds * 10, ct);
                        return;
                    }

                    break;
                case OnboardingPhase.Partial:
                    await support.FailAsync(instance, "Home Assistant was onboarded by hand", PreparePhase.PartialMessage(status), ct);
                    return;
                case OnboardingPhase.Fresh:
                    if (await BackupInfoAsync(url, ct) is not { } info)
                    {
                        break;
                    }

                    if (info.LastActionEvent is { ManagerState: "restore_backup", State: "failed" } failed && restoring)
                    {
                        // Home Assistant keeps reporting this failure until Core restarts: forgetting the request lets a
                        // retry ask for the restore again instead of failing at once on the same event.
                        await sites.ClearRestoreRequestedAsync(instance.Id, ct);
                        await support.FailAsync(instance, "Restoring the base backup failed",
                            $"Home Assistant could not restore the base backup ({failed.Reason ?? failed.Stage ?? "no reason given"}). Retry the instance; if it fails again, check the base backup of release {instance.Release}.", ct);
                        return;
                    }

                    if (info.State is "restore_backup" || info.LastActionEvent is { ManagerState: "restore_backup", State: "in_progress" })
                    {
                        // Restoring (asked for before a restart whose record was lost, or just now): wait for it.
                        await sites.SetRestoreRequestedAsync(instance.Id, ct);
                        break;
                    }

                    // Fresh and idle: nothing asked yet, or the request got lost; ask (again), a few times at most.
                    if (restoring && requestedAt is { } at && time.GetUtcNow() - at < support.Poll * 6)
                    {
                        break;
                    }

                    if (++requests > 3)
                    {
                        await support.FailAsync(instance, "Restoring the base backup failed", $"Home Assistant at {url} accepted the restore request {requests - 1} times but never restarted into the restored configuration.", ct);
                        return;
                    }

                    await RequestRestoreAsync(instance, site, url, info, ct);
                    requestedAt = time.GetUtcNow();
                    break;
            }

            if (time.GetUtcNow() > deadline)
            {
                await support.FailAsync(instance, "Restoring the base backup timed out",
                    $"Home Assistant at {url} did not come back restored within {PhaseSupport.Minutes(support.Options.RestoreTimeoutSeconds)} ({status.Detail}).", ct);
                return;
            }

            await support.RelocateIfGoneAsync(instance, url, status, ct);
            await steps.SayAsync(instance, site.RestoreRequestedAt is not null || requestedAt is not null
                ? $"Restoring the base backup: Home Assistant restarts ({status.Detail})"
                : $"Waiting for Home Assistant's backup integration ({status.Detail})", ct);
            await Task.Delay(support.Poll, time, ct);
        }
    }

    /// <summary>
    /// The backup manager's state once Core has loaded the backup integration; null while it has not (the onboarding
    /// backup views answer 404, or 500 <c>backup_disabled</c>, until then).
    /// </summary>
    private async Task<BackupInfo?> BackupInfoAsync(Uri url, CancellationToken ct)
    {
        try
        {
            return await ha.WaitForIntegrationAsync(url, "backup", ct) ? await ha.GetBackupInfoAsync(url, ct) : null;
        }
        catch (HomeAssistantException ex) when (ex.Status is HttpStatusCode.NotFound or HttpStatusCode.InternalServerError)
        {
            return null;
        }
    }

    private async Task RequestRestoreAsync(InstanceRow instance, HomeAssistantSite site, Uri url, BackupInfo info, CancellationToken ct)
    {
        var release = instance.Release ?? throw new HomeAssistantException($"Instance {instance.Id} records no release.");
        var backup = await baseBackups.GetAsync(release, ct)
            ?? throw new BackupArchiveException($"Release {release} has no base backup stored on the orchestrator: an admin uploads it on the Releases page (or with --import-base-backup), then retry the instance.");
        var policy = Policy(release);
        await sites.SetRestorePlanAsync(instance.Id, policy == HaosUuidPolicy.Keep ? "keep" : "regenerate",
            policy == HaosUuidPolicy.Keep ? null : BackupArchive.NewCoreUuid(), ct);
        site = await sites.GetAsync(instance.Id, ct);

        JsonObject manifest;
        await using (var file = File.OpenRead(backup.Path))
        {
            manifest = await BackupArchive.ReadBackupJsonAsync(file, ct);
        }

        var protectedBackup = manifest["protected"]?.GetValue<bool>() == true;
        if (protectedBackup && backup.Credentials.BackupPassword is null)
        {
            throw new BackupArchiveException($"The base backup of release {release} is encrypted but no backup key is stored with it.");
        }

        var backupId = site.BackupId is { } uploaded && info.Backups.Any(b => b.BackupId == uploaded) ? uploaded : null;
        if (backupId is null)
        {
            await steps.SayAsync(instance, site.UuidPolicy == "keep" ? "Uploading the base backup" : "Uploading the site's copy of the base backup (fresh instance id)", ct);
            backupId = await UploadAsync(instance, site, url, backup, ct);
            await sites.SetBackupIdAsync(instance.Id, backupId, ct);
            await steps.PointAsync(instance.Id, HomeAssistantSetup.BackupUploaded, ct);
        }

        var excludeDatabase = manifest["homeassistant"]?["exclude_database"]?.GetValue<bool>() == true;
        var addons = manifest["addons"] is JsonArray a ? a.Select(x => x?["slug"]?.GetValue<string>()).OfType<string>().ToList() : [];
        var folders = manifest["folders"] is JsonArray f ? f.Select(x => x?.GetValue<string>()).OfType<string>().ToList() : [];
        try
        {
            await ha.RestoreBackupAsync(url, new RestoreRequest(backupId, HomeAssistantClient.SupervisorAgent, protectedBackup ? backup.Credentials.BackupPassword : null,
                RestoreDatabase: !excludeDatabase, RestoreAddons: addons, RestoreFolders: folders), ct);
        }
        catch (HomeAssistantException ex) when (ex.Code == "incorrect_password")
        {
            throw new BackupArchiveException($"The base backup's encryption key is wrong: Home Assistant refused it (release {release}).", ex);
        }

        await sites.SetRestoreRequestedAsync(instance.Id, ct);
        logger.LogInformation("Instance {Instance} ({Hostname}): restore of the base backup requested ({Policy})", instance.Id, instance.Hostname, site.UuidPolicy);
        await steps.PointAsync(instance.Id, HomeAssistantSetup.RestoreRequested, ct);
    }

    private async Task<string> UploadAsync(InstanceRow instance, HomeAssistantSite site, Uri url, BaseBackup backup, CancellationToken ct)
    {
        var fileName = $"ctrlable-base-{instance.Release}.tar";
        if (site.UuidPolicy == "keep")
        {
            await using var original = File.OpenRead(backup.Path);
            return await ha.UploadBackupAsync(url, original, fileName, ct);
        }

        var work = DataDirectories.Create(storage.Value, "homeassistant");
        var copy = Path.Combine(work, $"instance-{instance.Id}.tar");
        try
        {
            BackupRewriteResult result;
            await using (var source = File.OpenRead(backup.Path))
            await using (var destination = File.Create(copy))
            {
                result = await BackupArchive.RewriteAsync(source, destination, new BackupRewrite(site.CoreUuid!, backup.Credentials.BackupPassword), work, ct);
            }

            logger.LogInformation("Instance {Instance} ({Hostname}): site copy of the base backup made (encrypted {Encrypted}, {Removed} refresh tokens removed)",
                instance.Id, instance.Hostname, result.Encrypted, result.RefreshTokensRemoved);
            await using var upload = File.OpenRead(copy);
            return await ha.UploadBackupAsync(url, upload, fileName, ct);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    private HaosUuidPolicy Policy(string release) =>
        catalog.Find(release)?.Manifest?.Decisions.HaosUuidPolicy ?? HaosUuidPolicy.Regenerate;
}
