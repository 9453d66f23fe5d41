using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>
/// Wires a Z-Wave JS or Frigate instance added later into the project's Home Assistant: when one becomes active (its
/// first boot reports complete) and the project's Home Assistant is active and wired, that Home Assistant goes back to
/// <see cref="InstanceStates.Wiring"/> and its pipeline runs the config flows again (idempotent: what is wired stays).
/// The same when a wired one moved to another address (<c>Deploy/AddressFollower</c> records the move as a change from
/// active to active): the flows point its entry at the new address. At start-up it catches up on any such instance a
/// stopped orchestrator missed.
/// </summary>
public sealed class HomeAssistantRewiring(
    InstanceChanges changes,
    InstanceRepository instances,
    HomeAssistantRepository sites,
    InstanceSteps steps,
    IPipelineQueue runner,
    IOptions<HomeAssistantOptions> options,
    TimeProvider time,
    ILogger<HomeAssistantRewiring> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Every change to active: a service that became active or moved (a change from active to active), and a Home
        // Assistant that finished wiring (its deferred services next).
        var active = System.Threading.Channels.Channel.CreateUnbounded<long>();
        using var subscription = changes.Subscribe(change =>
        {
            if (change.To == InstanceStates.Active)
            {
                active.Writer.TryWrite(change.InstanceId);
            }
        });

        foreach (var live in (await instances.ListLiveAsync(stoppingToken)).Where(IsWired).Where(i => i.State == InstanceStates.Active))
        {
            await RewireAsync(live, stoppingToken);
        }

        await foreach (var id in active.Reader.ReadAllAsync(stoppingToken))
        {
            if (await instances.GetAsync(id, stoppingToken) is not { } instance)
            {
                continue;
            }

            if (IsWired(instance))
            {
                await RewireAsync(instance, stoppingToken);
            }
            else if (instance.Type == TemplateTypes.CtrlablePro && _deferred.Remove(instance.Id, out var services))
            {
                // It was busy wiring when these changed: look at them again now that it is done.
                foreach (var serviceId in services)
                {
                    if (await instances.GetAsync(serviceId, stoppingToken) is { State: InstanceStates.Active } service)
                    {
                        await RewireAsync(service, stoppingToken);
                    }
                }
            }
        }
    }

    /// <summary>Home Assistant id → services that changed while it was wiring (read and written by the loop only).</summary>
    private readonly Dictionary<long, HashSet<long>> _deferred = [];

    private static bool IsWired(InstanceRow instance) => instance.Type is TemplateTypes.ZwaveJs or TemplateTypes.Frigate;

    private async Task RewireAsync(InstanceRow service, CancellationToken ct)
    {
        foreach (var homeAssistant in (await instances.ListByProjectAsync(service.ProjectId, includeDeleted: false, ct))
            .Where(i => i.Type == TemplateTypes.CtrlablePro && i.State is InstanceStates.Active or InstanceStates.Wiring))
        {
            var site = await sites.FindAsync(homeAssistant.Id, ct);
            if (homeAssistant.State == InstanceStates.Wiring)
            {
                if (site?.WiredAt is not null)
                {
                    // Busy with a later service: once it is active again, this one is looked at (no loop: only once).
                    (_deferred.TryGetValue(homeAssistant.Id, out var waiting) ? waiting : _deferred[homeAssistant.Id] = []).Add(service.Id);
                }

                continue;
            }

            var wired = (await sites.ListWiringAsync(homeAssistant.Id, ct)).Where(w => w.SourceInstanceId == service.Id).ToList();
            // Wired already, at the address it is reached at now: nothing to do.
            var target = WirePhase.TargetOf(service, await Projects.SiteSettings.OfProjectAsync(instances, service.ProjectId, ct));
            if (site?.WiredAt is null || (wired.Count > 0 && (target is null || wired.All(w => w.Target == target))))
            {
                continue;
            }

            var what = wired.Count == 0 ? $"Wiring {service.Hostname}" : $"Re-wiring {service.Hostname} at its new address";
            logger.LogInformation("{What} into the Home Assistant of {Hostname}", what, homeAssistant.Hostname);
            await instances.SetDeadlineAsync(homeAssistant.Id, time.GetUtcNow().AddSeconds(options.Value.RequestTimeoutSeconds * 10), ct);
            await steps.MoveAsync(homeAssistant, InstanceStates.Wiring, what, ct: ct);
            runner.Enqueue(homeAssistant.Id);
        }
    }
}
