using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Where an instance's guest is now. Proxmox may have moved it (an admin's migration, HA): its config then lives on
/// another node, and a request through the recorded node's path answers 500 "Configuration file … does not exist". The
/// guest is found by its VMID cluster-wide (one <c>/cluster/resources</c> read) and a new node is recorded, so the guest
/// is followed, never cloned again.
/// </summary>
public sealed class GuestLocator(ProxmoxClient proxmox, InstanceRepository instances, ILogger<GuestLocator> logger)
{
    /// <summary>The instance with its guest's current node (recorded when it changed); as it was when no guest of its kind holds the VMID.</summary>
    public async Task<InstanceRow> LocateAsync(InstanceRow instance, CancellationToken ct)
    {
        if (instance.Vmid is not { } vmid)
        {
            return instance;
        }

        var guest = (await proxmox.GetClusterResourcesAsync("vm", ct)).FirstOrDefault(r => r.Vmid == vmid);
        return guest is null ? instance : await FollowAsync(instance, guest, ct);
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
