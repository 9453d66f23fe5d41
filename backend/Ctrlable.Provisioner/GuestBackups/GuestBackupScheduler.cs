using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.GuestBackups;

/// <summary>
/// Runs each project's backups on its schedule (on the injected <see cref="TimeProvider"/>). At start it first finishes
/// what a stopped process left running (never starting it again); then every <see cref="GuestBackupsOptions.CheckIntervalSeconds"/>
/// it runs, per project, the latest slot at or before now that came after the schedule was first seen and has no run
/// yet — so a slot missed while the orchestrator was down is caught up once, and only the latest one — and raises or
/// resolves "backup missing".
/// </summary>
public sealed class GuestBackupScheduler(
    GuestBackupService backups,
    GuestRestoreService restores,
    GuestBackupRepository repository,
    InstanceRepository instances,
    IOptions<GuestBackupsOptions> options,
    TimeProvider time,
    ILogger<GuestBackupScheduler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await backups.ResumeInterruptedAsync(stoppingToken);
            await restores.ResumeRestoresAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException)
        {
            logger.LogWarning(ex, "Interrupted backups or restores could not be finished yet");
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.CheckIntervalSeconds), time);
        do
        {
            await RoundAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One look at every project with backups: its due slot run (awaited), then its "missing" check.</summary>
    public async Task RoundAsync(CancellationToken ct)
    {
        foreach (var project in await instances.ListProjectsAsync(ct))
        {
            if (SiteSettings.FromJson(project.SettingsJson).Backups is not { } settings)
            {
                continue;
            }

            try
            {
                var schedule = await repository.EnsureScheduleAsync(project.Id, GuestBackupService.ScheduleKey(settings), project.UpdatedAt, ct);
                var slot = BackupSlots.LatestAtOrBefore(settings.Schedule, time.GetUtcNow(), time.LocalTimeZone);
                if (slot >= schedule.Since && !await repository.HasRunForSlotAsync(project.Id, slot, ct))
                {
                    logger.LogInformation("Backing up project {Project} for its slot {Slot}", project.Id, slot);
                    await backups.RunSlotAsync(project, settings, slot, ct);
                }

                await backups.CheckMissingAsync(project, settings, ct);
            }
            catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException)
            {
                logger.LogWarning(ex, "Backups of project {Project} could not be looked at this round", project.Id);
            }
        }
    }
}
