using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

internal static class InstanceStateSetup
{
    /// <summary>Puts an instance in a state for a test, through the one owner of instance state (history row and change included).</summary>
    public static Task<bool> SetStateAsync(this InstanceTransitions transitions, long id, string state, string message, string? error = null, CancellationToken ct = default) =>
        transitions.MoveAsync(id, new Transition(state, message) { Error = error, Source = "test" }, ct);
}
