using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Wires a Z-Wave JS or Frigate instance added later into the project's Home Assistant: when one becomes active (its
/// first boot reports complete) and the project's Home Assistant is active and wired, that Home Assistant goes back to
/// <see cref="InstanceStates.Wiring"/> and its pipeline runs the config flows again (idempotent: what is wired stays).
/// At start-up it catches up on any such instance a stopped orchestrator missed.
/// </summary>
public sealed class HomeAssistantRewiring(
    IInstanceEvents instanceEvents,
    InstanceRepository instances,
    HomeAssistantRepository sites,
    InstanceSteps steps,
    DeployRunner runner,
    IOptions<HomeAssistantOptions> options,
    TimeProvider time,
    ILogger<HomeAssistantRewiring> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var changes = System.Threading.Channels.Channel.CreateUnbounded<long>();
        using var subscription = instanceEvents.Subscribe(change =>
        {
            if (change.To == InstanceStates.Active)
            {
                changes.Writer.TryWrite(change.InstanceId);
            }
        });

        foreach (var live in (await instances.ListLiveAsync(stoppingToken)).Where(IsWired).Where(i => i.State == InstanceStates.Active))
        {
            await RewireAsync(live, stoppingToken);
        }

        await foreach (var id in changes.Reader.ReadAllAsync(stoppingToken))
        {
            if (await instances.GetAsync(id, stoppingToken) is { } instance && IsWired(instance))
            {
                await RewireAsync(instance, stoppingToken);
            }
        }
    }

    private static bool IsWired(InstanceRow instance) => instance.Type is TemplateTypes.ZwaveJs or TemplateTypes.Frigate;

    private async Task RewireAsync(InstanceRow service, CancellationToken ct)
    {
        foreach (var homeAssistant in (await instances.ListByProjectAsync(service.ProjectId, includeDeleted: false, ct))
            .Where(i => i.Type == TemplateTypes.CtrlablePro && i.State == InstanceStates.Active))
        {
            var site = await sites.FindAsync(homeAssistant.Id, ct);
            if (site?.WiredAt is null || (await sites.ListWiringAsync(homeAssistant.Id, ct)).Any(w => w.SourceInstanceId == service.Id))
            {
                continue;
            }

            logger.LogInformation("Wiring {Service} into the Home Assistant of {Hostname}", service.Hostname, homeAssistant.Hostname);
            await instances.SetDeadlineAsync(homeAssistant.Id, time.GetUtcNow().AddSeconds(options.Value.RequestTimeoutSeconds * 10), ct);
            await steps.MoveAsync(homeAssistant, InstanceStates.Wiring, $"Wiring {service.Hostname}", ct: ct);
            runner.Enqueue(homeAssistant.Id);
        }
    }
}
