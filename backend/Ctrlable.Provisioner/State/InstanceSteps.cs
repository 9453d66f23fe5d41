namespace Ctrlable.Provisioner.State;

/// <summary>
/// The pipelines' side of <see cref="InstanceTransitions"/> (the deploy steps and Home Assistant's setup phases): records
/// an instance's step (which tells the live view), and lets crash tests stop right after it. Here, below both, so that
/// neither pipeline reaches into the other's namespace.
/// </summary>
public sealed class InstanceSteps(InstanceTransitions transitions, IDeployStepObserver observer, ILogger<InstanceSteps> logger)
{
    /// <summary>Who moves an instance through its steps, in the history.</summary>
    public const string Source = "deploy";

    /// <summary>Records the step; with <paramref name="from"/>, only while the instance is in one of those states. False when it did not move.</summary>
    public async Task<bool> MoveAsync(InstanceRow instance, string state, string message, string? upid = null, string? error = null,
        IReadOnlyCollection<string>? from = null, CancellationToken ct = default)
    {
        if (!await transitions.MoveAsync(instance.Id, new Transition(state, message) { Upid = upid, Error = error, From = from, Source = Source }, ct))
        {
            return false;
        }

        await observer.AfterStepAsync(instance.Id, state, ct);
        return true;
    }

    /// <summary>A new message within the same step (no observer call: nothing was persisted that a resume depends on).</summary>
    public Task SayAsync(InstanceRow instance, string message, CancellationToken ct) =>
        transitions.SayAsync(instance.Id, [instance.State], message, ct);

    /// <summary>Crash tests stop the orchestrator at named points inside a step, too.</summary>
    public Task PointAsync(long instanceId, string point, CancellationToken ct) => observer.AfterStepAsync(instanceId, point, ct);

    /// <summary>The instance fails with <paramref name="error"/>; <paramref name="reason"/> goes to the log.</summary>
    public async Task FailAsync(InstanceRow instance, string message, string error, string reason, CancellationToken ct)
    {
        logger.LogWarning("Instance {Instance} ({Hostname}): {Reason}", instance.Id, instance.Hostname, reason);
        await MoveAsync(instance, InstanceStates.Failed, message, error: error, ct: ct);
    }
}

/// <summary>
/// Steps of states the deploy pipeline does not drive itself (an upgrade's, Upgrade/): the same runner runs them, one
/// pipeline per instance at a time, and resumes them after a restart; transient failures are retried as for a deploy.
/// </summary>
public interface IInstanceStepHandler
{
    bool Handles(string state);

    /// <summary>Runs the instance's current step (<paramref name="reconcile"/>: it may have run before, look first).</summary>
    Task StepAsync(InstanceRow instance, bool reconcile, CancellationToken ct);

    /// <summary>The step failed for good (a refusal, or a transient failure past its attempts): the handler decides what follows.</summary>
    Task FailedAsync(InstanceRow instance, Exception error, CancellationToken ct);
}

/// <summary>
/// Called after each persisted step (and after a clone was requested but before its task is recorded).
/// The product uses none; crash tests use it to stop the orchestrator at exactly that point.
/// </summary>
public interface IDeployStepObserver
{
    Task AfterStepAsync(long instanceId, string step, CancellationToken ct);
}

public sealed class NoStepObserver : IDeployStepObserver
{
    public Task AfterStepAsync(long instanceId, string step, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>
/// Runs an instance's pipeline from its recorded state. The deploy runner is it; a feature that moves an instance back
/// into a pipeline state (Home Assistant's re-wiring) enqueues it here without knowing the deploy feature.
/// </summary>
public interface IPipelineQueue
{
    void Enqueue(long instanceId);
}
