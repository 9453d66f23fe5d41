namespace Ctrlable.Provisioner.State;

/// <summary>
/// Where an instance's guest is now (Proxmox may have moved it: a migration, HA). The deploy feature implements it
/// (<c>Deploy/GuestLocator</c>); features below it (Provision's address check, Home Assistant's locate phase) ask here
/// before they address the guest's node, without knowing the deploy feature.
/// </summary>
public interface IGuestLocator
{
    /// <summary>The instance with its guest's current node (recorded when it changed); as it was when no guest of its kind holds the VMID.</summary>
    Task<InstanceRow> LocateAsync(InstanceRow instance, CancellationToken ct);

    /// <summary>The node of instance <paramref name="instanceId"/>'s guest now (recorded when it changed); null when none is recorded.</summary>
    Task<string?> NodeOfAsync(long instanceId, CancellationToken ct);
}
