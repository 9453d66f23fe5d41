using System.Collections.Concurrent;
using System.Threading.Channels;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Runs instance pipelines in the background, each instance at most once at a time. At start-up it resumes
/// every instance a stopped orchestrator left unfinished.
/// </summary>
public sealed class DeployRunner(DeployPipeline pipeline, InstanceRepository instances, ILogger<DeployRunner> logger) : BackgroundService
{
    private readonly Channel<long> _queue = Channel.CreateUnbounded<long>();
    private readonly ConcurrentDictionary<long, Task> _running = new();

    public void Enqueue(long instanceId) => _queue.Writer.TryWrite(instanceId);

    /// <summary>True while an instance's pipeline runs (tests and the delete endpoint use it).</summary>
    public bool IsRunning(long instanceId) => _running.ContainsKey(instanceId);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var unfinished in await instances.ListUnfinishedAsync(stoppingToken))
        {
            logger.LogInformation("Resuming instance {Instance} ({Hostname}) at {State}", unfinished.Id, unfinished.Hostname, unfinished.State);
            Enqueue(unfinished.Id);
        }

        await foreach (var id in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            if (_running.ContainsKey(id))
            {
                // Already running: the pipeline re-reads the row each step, so it picks up the new request.
                continue;
            }

            _running[id] = Task.Run(async () =>
            {
                try
                {
                    // Every line the pipeline (and all it calls) writes carries the deploy's and the instance's id.
                    using var scope = logger.BeginDeployScope(id, (await instances.GetAsync(id, stoppingToken))?.DeployId);
                    await pipeline.RunAsync(id, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    // Shutting down: the persisted step is where the next start resumes.
                }
                catch (Exception ex)
                {
                    // A bug, not a Proxmox answer: keep the runner alive for the other instances and say so loudly.
                    logger.LogError(ex, "Pipeline of instance {Instance} stopped unexpectedly", id);
                }
                finally
                {
                    _running.TryRemove(id, out _);
                }
            }, CancellationToken.None);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await Task.WhenAll(_running.Values).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
