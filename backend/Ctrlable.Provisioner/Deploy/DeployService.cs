using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>A component a deploy asked for that the active release does not have on this host, and why.</summary>
public sealed record MissingComponent(string Type, string Reason);

public sealed record DeployStarted(long DeployId, long ProjectId, string Release, IReadOnlyList<InstanceRow> Instances);

/// <summary>Deploys, add-instance, retry, delete and power actions; the pipeline runs them in the background.</summary>
public sealed class DeployService(
    InstanceRepository instances,
    ReleaseRepository releases,
    Releases.ReleaseService releaseStates,
    DeployRunner runner,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    Provision.FirstBootClaims firstBootClaims,
    GuestOwnership ownership,
    InstanceTransitions transitions,
    Alerts.GuestStopRequests stopRequests,
    GuestLocator locator)
{
    /// <summary>
    /// Deploys the given template types (default: every template of the active release) as new instances. A type the
    /// release has but this host has not built is refused with the others (409, each named with the reason); the
    /// available ones deploy when asked for by themselves. One release per deploy: nothing is taken from another release.
    /// </summary>
    public async Task<(DeployStarted? Deploy, Refusal? Refusal)> DeployAsync(long projectId, IReadOnlyList<string>? types, string kind, string? actor, CancellationToken ct)
    {
        var project = await instances.GetProjectAsync(projectId, ct);
        if (project is null)
        {
            return (null, ProjectService.NotFound(projectId));
        }

        var release = await releases.GetActiveNameAsync(ct);
        if (release is null)
        {
            return (null, new Refusal(409, "No release built yet", "Build a release on the Releases page first: deploys clone its templates."));
        }

        var templates = (await releases.ListTemplatesAsync(release, ct)).ToDictionary(t => t.Name, StringComparer.Ordinal);
        // The release's components: its manifest's templates (built or not), and what is recorded for it.
        var states = (await releaseStates.TemplateStatesAsync(release, ct))?.ToDictionary(t => t.Name, StringComparer.Ordinal) ?? [];
        var components = states.Keys.Union(templates.Keys).Order(StringComparer.Ordinal).ToList();
        var wanted = types is { Count: > 0 } ? types : components;
        var unknown = wanted.Where(t => !components.Contains(t)).ToList();
        if (unknown.Count > 0)
        {
            // A field error of the request too: at the field the dealer named it in (a stack's types, an added instance's type).
            var detail = $"Release {release} has no template {string.Join(", ", unknown)}; it has {string.Join(", ", components)}.";
            return (null, new Refusal(400, "Unknown component", detail, new Dictionary<string, string[]> { [kind == "instance" ? "type" : "types"] = [detail] }));
        }

        var missing = wanted.Distinct(StringComparer.Ordinal).Where(t => !templates.ContainsKey(t))
            .Select(t => new MissingComponent(t, states.TryGetValue(t, out var state) && state.Reason is { } reason ? reason : "not built on this host"))
            .ToList();
        if (missing.Count > 0)
        {
            return (null, new Refusal(
                409,
                "Components not built",
                $"Release {release} has no template on this host for {string.Join("; ", missing.Select(m => $"{m.Type} ({m.Reason})"))}. " +
                "Deploy the other components, or rebuild the missing ones on the Releases page.",
                Extensions: new Dictionary<string, object?> { ["code"] = "components-unavailable", ["release"] = release, ["missing"] = missing }));
        }

        var live = await instances.ListByProjectAsync(projectId, includeDeleted: false, ct);
        // One Home Assistant per site: every other service wires itself to it.
        if (wanted.Contains("ctrlable-pro") && (wanted.Count(t => t == "ctrlable-pro") > 1 || live.Any(i => i.Type == "ctrlable-pro")))
        {
            return (null, new Refusal(409, "Home Assistant exists", "A project has one ctrlable-pro (Home Assistant); this one has it already."));
        }

        var rows = wanted.Select(t => templates[t]).Select(t => new NewInstance(t.Name, t.Kind, t.Vmid, t.Node, release)).ToList();
        var (deployId, created) = await instances.InsertDeployAsync(projectId, project.Slug, kind, release, actor, rows, ct);
        foreach (var instance in created)
        {
            runner.Enqueue(instance.Id);
        }

        return (new DeployStarted(deployId, projectId, release, created), null);
    }

    public async Task<(InstanceRow? Instance, Refusal? Refusal)> RetryAsync(long instanceId, CancellationToken ct)
    {
        var instance = await instances.GetAsync(instanceId, ct);
        if (instance is null)
        {
            return (null, InstanceNotFound(instanceId));
        }

        if (instance.State != InstanceStates.Failed)
        {
            return (null, new Refusal(409, "Nothing to retry", $"{instance.Hostname} is {instance.State}; only failed instances are retried."));
        }

        // Failed before a guest existed: clone again. Otherwise re-apply its identity and start it again;
        // the first-boot service retries by itself on the next boot. A guest at its VMID that is not the instance's
        // is left alone: the instance is cloned anew at another VMID.
        var (owner, _) = await ownership.OwnerOfVmidAsync(instance, ct);
        if (owner == GuestOwner.Foreign)
        {
            await instances.ClearVmidAsync(instanceId, ct);
        }

        if (owner != GuestOwner.Ours)
        {
            // A new clone holds no instance credential: the old guest's claim must not lock it out.
            await firstBootClaims.ResetAsync(instanceId, ct);
        }

        var retry = new Transition(owner == GuestOwner.Ours ? InstanceStates.Configuring : InstanceStates.Pending,
            owner == GuestOwner.Foreign ? $"Retrying at another VMID: {GuestOwnership.NotOurs(instance.Vmid!.Value)}" : "Retrying");
        await transitions.MoveAsync(instanceId, retry with { Source = "retry" }, ct);
        runner.Enqueue(instanceId);
        return (await instances.GetAsync(instanceId, ct), null);
    }

    /// <summary>Stops and destroys the guest (purging it from Proxmox jobs); the instance row stays as history.</summary>
    public async Task<(InstanceRow? Instance, Refusal? Refusal)> DeleteAsync(long instanceId, CancellationToken ct)
    {
        var instance = await instances.GetAsync(instanceId, ct);
        if (instance is null || instance.State == InstanceStates.Deleted)
        {
            return (null, InstanceNotFound(instanceId));
        }

        if (instance.State is InstanceStates.Pending or InstanceStates.Cloning or InstanceStates.Configuring or InstanceStates.Starting
            or InstanceStates.Locating or InstanceStates.Preparing or InstanceStates.Restoring or InstanceStates.Securing or InstanceStates.Wiring && runner.IsRunning(instanceId))
        {
            return (null, new Refusal(409, "Deploy in progress", $"{instance.Hostname} is being deployed ({instance.State}); delete it once it is active or failed."));
        }

        if (InstanceStates.IsUpgrade(instance.State))
        {
            return (null, UpgradeInProgress(instance));
        }

        await transitions.MoveAsync(instanceId, new Transition(InstanceStates.Deleting, "Deleting") { Source = "delete" }, ct);
        runner.Enqueue(instanceId);
        return (await instances.GetAsync(instanceId, ct), null);
    }

    /// <summary>start | stop | shutdown | reboot of a deployed guest; waits for the Proxmox task.</summary>
    public async Task<(InstanceRow? Instance, Refusal? Refusal)> PowerAsync(long instanceId, string action, CancellationToken ct)
    {
        var instance = await instances.GetAsync(instanceId, ct);
        if (instance is null || instance.State == InstanceStates.Deleted)
        {
            return (null, InstanceNotFound(instanceId));
        }

        if (instance.Vmid is not { } vmid || instance.Node is null || instance.State is InstanceStates.Pending or InstanceStates.Cloning or InstanceStates.Configuring or InstanceStates.Deleting)
        {
            return (null, new Refusal(409, "Guest not ready", $"{instance.Hostname} is {instance.State}; power actions work once its guest exists."));
        }

        if (InstanceStates.IsUpgrade(instance.State))
        {
            return (null, UpgradeInProgress(instance));
        }

        var kind = GuestOwnership.KindOf(instance);
        // Power actions only on the guest proven the instance's (the marker its clone wrote).
        var (owner, guest) = await ownership.OwnerOfVmidAsync(instance, ct);
        switch (owner)
        {
            case GuestOwner.None:
                return (null, new Refusal(409, "Guest not found", $"{instance.Hostname}: no guest holds VMID {vmid} any more."));
            case GuestOwner.Foreign:
                return (null, new Refusal(409, "Not this instance's guest", $"{instance.Hostname}: {GuestOwnership.NotOurs(vmid)}"));
        }

        // Found by its VMID cluster-wide: a guest Proxmox moved to another node is acted on there (and its node recorded).
        instance = await locator.FollowAsync(instance, guest!, ct);

        var status = await proxmox.GetGuestStatusAsync(instance.Node!, kind, (int)vmid, ct);
        var running = status.Status == "running";
        if ((action == "start" && running) || (action is "stop" or "shutdown" && !running))
        {
            return (instance, null); // already there: idempotent for scripts
        }

        if (action == "reboot" && !running)
        {
            return (null, new Refusal(409, "Guest not running", $"{instance.Hostname} is stopped; start it instead."));
        }

        // A stop asked of the orchestrator is expected (no "stopped unexpectedly" alert): recorded before it is sent.
        if (action is "stop" or "shutdown")
        {
            await stopRequests.RecordAsync(instanceId, null, ct);
        }
        else
        {
            await stopRequests.ClearAsync(instanceId, ct);
        }

        var upid = action switch
        {
            "start" => await proxmox.StartAsync(instance.Node!, kind, (int)vmid, ct),
            "stop" => await proxmox.StopAsync(instance.Node!, kind, (int)vmid, ct),
            "shutdown" => await proxmox.ShutdownAsync(instance.Node!, kind, (int)vmid, 60, ct),
            _ => await proxmox.RebootAsync(instance.Node!, kind, (int)vmid, ct),
        };
        var outcome = await tasks.WaitAsync(instance.Node!, upid, TimeSpan.FromMinutes(3), ct);
        return outcome.Succeeded
            ? (instance, null)
            : (null, new Refusal(502, $"Proxmox could not {action} {instance.Hostname}", outcome.Describe()));
    }

    /// <summary>An upgrade owns the guest until it is active again (it may roll the guest back to its snapshot).</summary>
    public static Refusal UpgradeInProgress(InstanceRow instance) =>
        new(409, "Upgrade in progress", $"{instance.Hostname} is being upgraded ({instance.State}); wait until it is active again.", Extensions: new Dictionary<string, object?> { ["code"] = "busy" });

    public static Refusal InstanceNotFound(long instanceId) => new(404, "Instance not found", $"There is no instance {instanceId}.");
}
