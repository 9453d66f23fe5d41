namespace Ctrlable.Provisioner.Observability;

/// <summary>
/// The ids a unit of work puts on every log line written inside it (<c>ILogger.BeginScope</c>): the JSON console format
/// shows them as fields, so journald can be filtered by deploy, instance or build. Ids only, never a secret.
/// </summary>
public static class LogScopes
{
    public static IDisposable? BeginDeployScope(this ILogger logger, long instanceId, long? deployId) =>
        deployId is { } deploy
            ? logger.BeginScope("Deploy {DeployId}, instance {InstanceId}", deploy, instanceId)
            : logger.BeginScope("Instance {InstanceId}", instanceId);

    public static IDisposable? BeginBuildScope(this ILogger logger, long buildId) =>
        logger.BeginScope("Build {BuildId}", buildId);
}
