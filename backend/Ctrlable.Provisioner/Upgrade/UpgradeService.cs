using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>An instance of the project left as it is by a project upgrade, and why.</summary>
public sealed record UpgradeSkipped(long InstanceId, string Hostname, string Code, string Reason);

/// <summary>Starts upgrades (the runner carries them out, UpgradePipeline): one instance, or every upgradable one of a project.</summary>
public sealed class UpgradeService(
    InstanceRepository instances,
    UpgradeRepository upgrades,
    UpgradeOffers offers,
    InstanceTransitions transitions,
    ProxmoxClient proxmox,
    GuestLocator locator,
    DeployRunner runner,
    ILogger<UpgradeService> logger)
{
    public async Task<(InstanceRow? Instance, Refusal? Refusal)> UpgradeInstanceAsync(long instanceId, string? actor, CancellationToken ct)
    {
        var instance = await instances.GetAsync(instanceId, ct);
        if (instance is null || instance.State == InstanceStates.Deleted)
        {
            return (null, DeployService.InstanceNotFound(instanceId));
        }

        if (InstanceStates.IsUpgrade(instance.State))
        {
            return (null, DeployService.UpgradeInProgress(instance));
        }

        var offer = await offers.OfferAsync(instance, ct);
        if (offer is null)
        {
            return (null, new Refusal(409, "Already current", $"{instance.Hostname} runs release {instance.Release}; there is no newer active release to upgrade to.", Extensions: Code("already-current")));
        }

        if (!offer.Possible)
        {
            return (null, new Refusal(409, "Cannot upgrade", offer.Reason!, Extensions: Code(offer.Code!)));
        }

        return await StartAsync(instance, offer.To, actor, ct);
    }

    public async Task<(IReadOnlyList<InstanceRow>? Started, IReadOnlyList<UpgradeSkipped> Skipped, Refusal? Refusal)> UpgradeProjectAsync(long projectId, string? actor, CancellationToken ct)
    {
        if (await instances.GetProjectAsync(projectId, ct) is null)
        {
            return (null, [], new Refusal(404, "Project not found", $"There is no project {projectId}."));
        }

        var live = await instances.ListByProjectAsync(projectId, includeDeleted: false, ct);
        var available = await offers.OffersAsync(live, ct);
        if (available.Count == 0)
        {
            return (null, [], new Refusal(409, "Already current", "Every instance of the project runs the active release.", Extensions: Code("already-current")));
        }

        var started = new List<InstanceRow>();
        var skipped = new List<UpgradeSkipped>();
        foreach (var instance in live.Where(i => available.ContainsKey(i.Id)))
        {
            var offer = available[instance.Id];
            if (!offer.Possible)
            {
                skipped.Add(new UpgradeSkipped(instance.Id, instance.Hostname, offer.Code!, offer.Reason!));
                continue;
            }

            var (row, refusal) = await StartAsync(instance, offer.To, actor, ct);
            if (row is not null)
            {
                started.Add(row);
            }
            else
            {
                skipped.Add(new UpgradeSkipped(instance.Id, instance.Hostname, refusal!.Extensions?.GetValueOrDefault("code") as string ?? "refused", refusal.Detail));
            }
        }

        return started.Count == 0
            ? (null, skipped, new Refusal(409, "Nothing to upgrade", string.Join(" ", skipped.Select(s => $"{s.Hostname}: {s.Reason}")),
                Extensions: new Dictionary<string, object?> { ["code"] = "nothing-upgradable", ["skipped"] = skipped }))
            : (started, skipped, null);
    }

    /// <summary>
    /// Records the upgrade (its snapshot's name first), moves the instance active → upgrading and hands it to the runner.
    /// The guest must run: the upgrade checks the running app, and an LXC guest updates itself.
    /// </summary>
    private async Task<(InstanceRow? Instance, Refusal? Refusal)> StartAsync(InstanceRow instance, string to, string? actor, CancellationToken ct)
    {
        if (instance.Vmid is not { } vmid || instance.Node is null)
        {
            return (null, new Refusal(409, "Cannot upgrade", $"{instance.Hostname} has no guest recorded.", Extensions: Code("not-active")));
        }

        try
        {
            // Where the guest is now (Proxmox may have moved it); the upgrade is recorded with that node.
            instance = await locator.LocateAsync(instance, ct);
            var node = instance.Node!;
            var config = await proxmox.GetGuestConfigAsync(node, GuestOwnership.KindOf(instance), (int)vmid, ct);
            if (!GuestOwnership.Carries(config, instance))
            {
                return (null, new Refusal(409, "Not this instance's guest", $"{instance.Hostname}: {GuestOwnership.NotOurs(vmid)}", Extensions: Code("not-ours")));
            }

            if ((await proxmox.GetGuestStatusAsync(node, GuestOwnership.KindOf(instance), (int)vmid, ct)).Status != "running")
            {
                return (null, new Refusal(409, "Guest not running", $"{instance.Hostname} is stopped; start it first (the upgrade checks the running app).", Extensions: Code("not-running")));
            }
        }
        catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException or ProxmoxCertificateException or Polly.Timeout.TimeoutRejectedException)
        {
            return (null, new Refusal(502, "Proxmox unavailable", $"Proxmox could not tell the state of {instance.Hostname}: {ex.Message}", Extensions: Code("proxmox-unavailable")));
        }

        if (await upgrades.InsertAsync(instance, to, actor, ct) is not { } upgrade)
        {
            return (null, DeployService.UpgradeInProgress(instance));
        }

        var moved = await transitions.MoveAsync(instance.Id, new Transition(InstanceStates.Upgrading, $"Upgrading to {to}: taking a snapshot")
        {
            From = [InstanceStates.Active],
            Note = $"Upgrade from {instance.Release} to {to} started (snapshot '{upgrade.SnapshotName}')",
            Source = UpgradePipeline.Source,
        }, ct);
        if (!moved)
        {
            await upgrades.FinishAsync(upgrade.Id, UpgradeOutcomes.Failed, "the instance was no longer active", ct);
            return (null, new Refusal(409, "Cannot upgrade", $"{instance.Hostname} is no longer active.", Extensions: Code("busy")));
        }

        logger.LogInformation("Upgrade {Upgrade} of instance {Instance} ({Hostname}) from {From} to {To} started by {Actor}", upgrade.Id, instance.Id, instance.Hostname, instance.Release, to, actor);
        runner.Enqueue(instance.Id);
        return (await instances.GetAsync(instance.Id, ct), null);
    }

    private static Dictionary<string, object?> Code(string code) => new() { ["code"] = code };
}
