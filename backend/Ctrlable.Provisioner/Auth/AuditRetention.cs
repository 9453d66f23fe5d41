using Ctrlable.Provisioner.Config;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Auth;

/// <summary>Keeps the audit log to Auth:AuditRetentionDays: prunes at start and once a day.</summary>
public sealed class AuditRetention(AuditRepository audit, IOptions<AuthOptions> options, TimeProvider time, ILogger<AuditRetention> logger) : BackgroundService
{
    public async Task<int> PruneAsync(CancellationToken ct)
    {
        var cutoff = time.GetUtcNow() - TimeSpan.FromDays(options.Value.AuditRetentionDays);
        var deleted = await audit.DeleteOlderThanAsync(cutoff, ct);
        if (deleted > 0)
        {
            logger.LogInformation("Deleted {Count} audit log entries older than {Days} days", deleted, options.Value.AuditRetentionDays);
        }

        return deleted;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromDays(1), time);
        do
        {
            try
            {
                await PruneAsync(stoppingToken);
            }
            catch (SqliteException ex)
            {
                // A busy or failing disk must not stop the orchestrator; the next day tries again.
                logger.LogWarning("Audit log pruning failed: {Reason}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
