using System.Collections.Concurrent;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>
/// Runs a test's action once, the first time an instance reaches a step (a state or a named point inside one). The
/// pipeline awaits it, so what the action changes is in place before the step goes on.
/// </summary>
internal sealed class StepHooks : IDeployStepObserver
{
    private readonly ConcurrentDictionary<string, Func<long, Task>> _hooks = new(StringComparer.Ordinal);

    public void At(string step, Func<long, Task> action) => _hooks[step] = action;

    public void Clear() => _hooks.Clear();

    public async Task AfterStepAsync(long instanceId, string step, CancellationToken ct)
    {
        if (_hooks.TryRemove(step, out var action))
        {
            await action(instanceId);
        }
    }
}
