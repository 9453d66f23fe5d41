using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>Who holds an instance's VMID, as far as the orchestrator's token can tell.</summary>
public enum GuestOwner
{
    /// <summary>No guest the token can see holds the VMID.</summary>
    None,

    /// <summary>The guest carries this instance's marker: the orchestrator made it for this instance.</summary>
    Ours,

    /// <summary>A guest without the marker (someone else's, or one whose description was changed): never touched.</summary>
    Foreign,
}

/// <summary>
/// The proof the orchestrator asks for before it changes, starts, stops or destroys a guest: its description carries
/// the instance's marker, written by the clone request itself (Proxmox takes <c>description</c> on clone for CT and VM
/// alike, so the guest is marked from its first moment). The marker holds a random per-instance nonce kept only in
/// this orchestrator's database: another orchestrator (a reinstall with a fresh database numbers its instances the
/// same) cannot produce it.
/// </summary>
public sealed class GuestOwnership(ProxmoxClient proxmox)
{
    /// <summary>"instance #N (hostname) [nonce]"; rows recorded before migration 011 have no nonce and the older marker.</summary>
    public static string Marker(InstanceRow instance) => instance.OwnerNonce is { } nonce
        ? $"instance #{instance.Id} ({instance.Hostname}) [{nonce}]"
        : $"instance #{instance.Id} ({instance.Hostname})";

    /// <summary>Identifies the guest as the orchestrator's after a crash or to a Proxmox admin.</summary>
    public static string Description(InstanceRow instance) =>
        $"Ctrlable {instance.Type} of project #{instance.ProjectId}, {Marker(instance)}, release {instance.Release}. Managed by Ctrlable Provisioner.";

    public static bool Carries(IReadOnlyDictionary<string, string> config, InstanceRow instance) =>
        config.GetValueOrDefault("description")?.Contains(Marker(instance), StringComparison.Ordinal) == true;

    /// <summary>What the instance's history says when it leaves a guest alone.</summary>
    public static string NotOurs(long vmid) =>
        $"VMID {vmid} holds a guest that is not this instance's (its description lacks the instance's ownership marker): it was left alone.";

    /// <summary>Whether <paramref name="guest"/> is the instance's: the kind it was cloned as, and the marker.</summary>
    public async Task<bool> IsOursAsync(ClusterResource guest, InstanceRow instance, CancellationToken ct)
    {
        var kind = KindOf(instance);
        if (guest.Kind != kind || guest.Node is null || guest.Vmid is null)
        {
            return false;
        }

        return Carries(await proxmox.GetGuestConfigAsync(guest.Node, kind, guest.Vmid.Value, ct), instance);
    }

    /// <summary>Who holds the instance's VMID now, and the guest when there is one.</summary>
    public async Task<(GuestOwner Owner, ClusterResource? Guest)> OwnerOfVmidAsync(InstanceRow instance, CancellationToken ct)
    {
        if (instance.Vmid is not { } vmid
            || (await proxmox.GetClusterResourcesAsync("vm", ct)).FirstOrDefault(r => r.Vmid == vmid) is not { } guest)
        {
            return (GuestOwner.None, null);
        }

        return (await IsOursAsync(guest, instance, ct) ? GuestOwner.Ours : GuestOwner.Foreign, guest);
    }

    public static GuestKind KindOf(InstanceRow instance) => instance.Kind == "vm" ? GuestKind.Qemu : GuestKind.Lxc;
}

public static class NotOursStep
{
    /// <summary>The guest at the instance's VMID lacks its marker: the instance fails with why, the guest is left alone.</summary>
    public static Task FailNotOursAsync(this InstanceSteps steps, InstanceRow instance, long vmid, CancellationToken ct) =>
        steps.FailAsync(instance, "Not this instance's guest", GuestOwnership.NotOurs(vmid) + " Retry clones the instance anew at another VMID.", GuestOwnership.NotOurs(vmid), ct);
}
