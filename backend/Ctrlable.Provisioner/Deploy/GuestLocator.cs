using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Where an instance's guest is now. Proxmox may have moved it (an admin's migration, HA): its config then lives on
/// another node, and a request through the recorded node's path answers 500 "Configuration file … does not exist". The
/// guest is found by its VMID cluster-wide (one <c>/cluster/resources</c> read) and a new node is recorded, so the guest
/// is followed, never cloned again. The read is <see cref="ClusterLook.CurrentAsync"/>'s: locates of the same moment (and the
/// deploy steps' look then in flight) share one. Every action on a guest asks here first (power, configure, start, upgrade and its
/// snapshots, backups and restore, address following, Home Assistant's locate phase).
/// </summary>
public sealed class GuestLocator(ClusterLook look, InstanceRepository instances, ILogger<GuestLocator> logger) : IGuestLocator
{
    /// <summary>The instance with its guest's current node (recorded when it changed); as it was when no guest of its kind holds the VMID.</summary>
    public async Task<InstanceRow> LocateAsync(InstanceRow instance, CancellationToken ct)
    {
        if (instance.Vmid is not { } vmid)
        {
            return instance;
        }

        var guest = (await look.CurrentAsync(ct)).FirstOrDefault(r => r.Vmid == vmid);
        return guest is null ? instance : await FollowAsync(instance, guest, ct);
    }

    public async Task<string?> NodeOfAsync(long instanceId, CancellationToken ct) =>
        await instances.GetAsync(instanceId, ct) is { } instance ? (await LocateAsync(instance, ct)).Node : null;

    /// <summary>Several instances located with one <c>/cluster/resources</c> read (none when no instance has a guest).</summary>
    public async Task<IReadOnlyList<InstanceRow>> LocateAllAsync(IReadOnlyList<InstanceRow> list, CancellationToken ct)
    {
        if (!list.Any(i => i.Vmid is not null))
        {
            return list;
        }

        var guests = (await look.CurrentAsync(ct)).Where(r => r.Vmid is not null)
            .GroupBy(r => r.Vmid!.Value).ToDictionary(g => g.Key, g => g.First());
        var located = new List<InstanceRow>(list.Count);
        foreach (var instance in list)
        {
            located.Add(instance.Vmid is { } vmid && guests.TryGetValue((int)vmid, out var guest) ? await FollowAsync(instance, guest, ct) : instance);
        }

        return located;
    }

    /// <summary>Records <paramref name="guest"/>'s node for the instance when Proxmox moved it; the instance as it is now.</summary>
    public async Task<InstanceRow> FollowAsync(InstanceRow instance, ClusterResource guest, CancellationToken ct)
    {
        if (guest.Node is not { } node || node == instance.Node || guest.Kind != GuestOwnership.KindOf(instance))
        {
            return instance;
        }

        logger.LogInformation("Instance {Instance} ({Hostname}): guest {Vmid} is on node {Node} now (was {Previous}); following it",
            instance.Id, instance.Hostname, instance.Vmid, node, instance.Node);
        await instances.SetNodeAsync(instance.Id, node, ct);
        return instance with { Node = node };
    }
}
