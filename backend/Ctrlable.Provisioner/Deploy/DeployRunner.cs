using System.Collections.Concurrent;
using System.Threading.Channels;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Runs instance pipelines in the background, each instance at most once at a time. At start-up it resumes
/// every instance a stopped orchestrator left unfinished.
/// </summary>
public sealed class DeployRunner(DeployPipeline pipeline, InstanceRepository instances, ILogger<DeployRunner> logger) : BackgroundService, IPipelineQueue
{
    private readonly Channel<long> _queue = Channel.CreateUnbounded<long>();
    private readonly ConcurrentDictionary<long, Task> _running = new();

    public void Enqueue(long instanceId) => _queue.Writer.TryWrite(instanceId);

    /// <summary>True while an instance's pipeline runs (tests and the delete endpoint use it).</summary>
    public bool IsRunning(long instanceId) => _running.ContainsKey(instanceId);

    /// <summary>Requests not yet read by the runner (tests wait on it).</summary>
    internal int Queued => _queue.Reader.Count;

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
                // Already running: the pipeline re-reads the row each step, so it picks up the new request (or, past
                // its last read, is run again as it ends).
                continue;
            }

            // Recorded before it starts, so a run that ends at once cannot be recorded after it let go.
            var run = new Task<Task>(() => RunPipelineAsync(id, stoppingToken));
            _running[id] = run.Unwrap();
            run.Start(TaskScheduler.Default);
        }
    }

    private async Task RunPipelineAsync(long id, CancellationToken stoppingToken)
    {
        var released = false;
        try
        {
            // Every line the pipeline (and all it calls) writes carries the deploy's and the instance's id.
            using (logger.BeginDeployScope(id, (await instances.GetAsync(id, stoppingToken))?.DeployId))
            {
                await pipeline.RunAsync(id, stoppingToken);
            }

            // A request read after the pipeline's last look at its row (a retry, a re-wiring) was skipped above as
            // "already running": once this run lets go, an instance moved on since is run again.
            released = _running.TryRemove(id, out _);
            if (await instances.GetAsync(id, stoppingToken) is { IsFinished: false })
            {
                Enqueue(id);
            }
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
            if (!released)
            {
                _running.TryRemove(id, out _);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await Task.WhenAll(_running.Values).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
