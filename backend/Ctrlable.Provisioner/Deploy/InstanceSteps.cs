using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>Records an instance's step, tells the live view, and lets crash tests stop right after it.</summary>
public sealed class InstanceSteps(InstanceRepository instances, DeployEvents events, IDeployStepObserver observer)
{
    public async Task MoveAsync(InstanceRow instance, string state, string message, string? upid = null, string? error = null, CancellationToken ct = default)
    {
        await instances.SetStateAsync(instance.Id, state, message, upid, error, ct);
        if (await instances.GetAsync(instance.Id, ct) is { } updated)
        {
            events.Publish(InstanceProgress.Of(updated));
        }

        await observer.AfterStepAsync(instance.Id, state, ct);
    }

    /// <summary>A new message within the same step (no observer call: nothing was persisted that a resume depends on).</summary>
    public async Task SayAsync(InstanceRow instance, string message, CancellationToken ct)
    {
        if (await instances.GetAsync(instance.Id, ct) is not { } current || current.State != instance.State || current.Message == message)
        {
            return;
        }

        await instances.SetStateAsync(instance.Id, current.State, message, current.Upid, current.Error, ct);
        if (await instances.GetAsync(instance.Id, ct) is { } updated)
        {
            events.Publish(InstanceProgress.Of(updated));
        }
    }

    /// <summary>Crash tests stop the orchestrator at named points inside a step, too.</summary>
    public Task PointAsync(long instanceId, string point, CancellationToken ct) => observer.AfterStepAsync(instanceId, point, ct);
}
