namespace Ctrlable.Provisioner.Build;

/// <summary>At start-up: builds a previous process left "running" can no longer be followed, so they failed.</summary>
public sealed class BuildRecovery(BuildRepository builds, TimeProvider time, ILogger<BuildRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var count = await builds.FailAbandonedAsync(
            "The orchestrator restarted while this build ran, so its outcome is unknown here. " + BuildService.HostMayStillRun,
            "unknown: the orchestrator restarted before the host reported it", time.GetUtcNow(), cancellationToken);
        if (count > 0)
        {
            logger.LogWarning("Marked {Count} build(s) left running by a previous start as failed", count);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
