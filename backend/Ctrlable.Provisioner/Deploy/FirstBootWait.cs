using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// The deploy pipeline's wait for a guest's first boot: the provision endpoints move the instance on (personalising,
/// then active or failed); this waits for that change on <see cref="InstanceChanges"/> — no polling of the database —
/// and fails the instance when its first-boot deadline passes first.
/// </summary>
public sealed class FirstBootWait(InstanceChanges changes, InstanceSteps steps, IOptions<DeployOptions> deployOptions, TimeProvider time)
{
    private static readonly string[] FirstBoot = [InstanceStates.Waiting, InstanceStates.Personalising];

    public async Task WaitAsync(InstanceRow instance, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var over = changes.WaitForAsync(instance.Id, state => !FirstBoot.Contains(state), stop.Token);
        if (instance.DeadlineAt is { } deadline)
        {
            var left = deadline - time.GetUtcNow();
            var expired = Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero, time, stop.Token);
            if (await Task.WhenAny(over, expired) == expired && !over.IsCompleted)
            {
                await stop.CancelAsync();
                // Only while the first boot is still under way: a report that came just now stands.
                await steps.MoveAsync(instance, InstanceStates.Failed, "No first-boot report",
                    error: $"The guest did not report its first boot within {deployOptions.Value.FirstBootTimeoutSeconds / 60:0.#} min. Check its network and the orchestrator address in /etc/ctrlable/firstboot.env.",
                    from: FirstBoot, ct: ct);
                return;
            }

            await stop.CancelAsync();
        }

        await over;
    }
}
