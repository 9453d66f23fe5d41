using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Releases;

/// <summary>
/// Removes the templates of a release <see cref="ReleasesOptions.RemoveTemplatesAfterDays"/> after it stopped being the
/// active one (off by default). Each due release goes through <see cref="TemplateRemoval.RemoveAsync"/>, the removal an
/// admin starts on the Releases page, with all its refusals: the active release, a running build or deploy of it, a
/// linked clone holding a base volume (then nothing of the release is removed; the next round tries again). Only
/// templates whose build recorded the proof of ownership are destroyed; a release left with unproven ones only is not
/// looked at again (they are listed "not proven ours" for the admin). Crash-safe and idempotent: each template's record
/// goes right after its destroy task succeeded, and a template destroyed before a crash let its record go is found gone
/// and forgotten next round.
/// </summary>
public sealed class TemplateExpiry(
    ReleaseRepository releases,
    TemplateRemoval removal,
    IOptions<ReleasesOptions> options,
    TimeProvider time,
    ILogger<TemplateExpiry> logger) : BackgroundService
{
    /// <summary>Who the removal is recorded as (templatesRemovedBy).</summary>
    public string Actor => $"automatic removal (Releases:RemoveTemplatesAfterDays={options.Value.RemoveTemplatesAfterDays})";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.RemoveTemplatesAfterDays == 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(options.Value.TemplateRemovalCheckMinutes), time);
        do
        {
            try
            {
                await RoundAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException or Microsoft.Data.Sqlite.SqliteException)
            {
                logger.LogWarning("Automatic template removal stopped this round: {Reason}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One round: every release due whose recorded templates include a proven one; returns the releases it removed templates of.</summary>
    public async Task<IReadOnlyList<string>> RoundAsync(CancellationToken ct)
    {
        if (options.Value.RemoveTemplatesAfterDays == 0)
        {
            return [];
        }

        var now = time.GetUtcNow();
        var done = new List<string>();
        foreach (var (release, supersededAt) in await releases.ListSupersededAsync(now, ct))
        {
            if (options.Value.TemplatesDueAt(supersededAt) > now || !(await releases.ListOwnedTemplatesAsync(release, ct)).Any(t => t.IsProven))
            {
                continue;
            }

            var (result, refusal) = await removal.RemoveAsync(release, Actor, ct);
            if (refusal is not null)
            {
                logger.LogInformation("Templates of {Release} are due for removal but were kept this round: {Reason}", release, refusal.Detail);
                continue;
            }

            foreach (var template in result!.Templates)
            {
                logger.LogInformation("Automatic removal of {Release}'s template {Template} ({Vmid}): {Outcome}: {Detail}",
                    release, template.Name, template.Vmid, template.Outcome, template.Detail);
            }

            done.Add(release);
        }

        return done;
    }
}
