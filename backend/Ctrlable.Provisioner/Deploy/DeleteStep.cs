using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// The delete step of <see cref="DeployPipeline"/>: destroys the instance's guest when it carries the instance's marker
/// (a stop or destroy of ours still in flight is waited for first), removes its assignment, and records it deleted.
/// </summary>
public sealed class DeleteStep(GuestTasks guests, GuestOwnership ownership, AssignmentService assignments, InstanceSteps steps, ILogger<DeleteStep> logger)
{
    public async Task DeleteAsync(InstanceRow instance, CancellationToken ct)
    {
        var kind = GuestOwnership.KindOf(instance);
        string? error = null;
        if (instance.Vmid is { } vmid && await guests.FindSettledGuestAsync(vmid, kind, instance.Node, instance.TemplateVmid, ct) is { } found
            && await OwnGuestSettledAsync(instance, found, ct) is { } guest)
        {
            if (!await guests.DestroyIfOursAsync(instance, guest, ct))
            {
                // The instance's own guest is gone (nothing of ours holds its VMID): the row goes, the guest stays.
                error = GuestOwnership.NotOurs(vmid);
                logger.LogWarning("Instance {Instance} ({Hostname}) deleted without destroying anything: {Reason}", instance.Id, instance.Hostname, error);
            }
        }

        await assignments.DeleteAsync(instance.Id, ct);
        await steps.MoveAsync(instance, InstanceStates.Deleted, error is null ? "Deleted" : "Deleted; the guest at its VMID is not this instance's and was left alone", error: error, ct: ct);
    }

    /// <summary>
    /// The instance's own guest once a stop or destroy of ours still in flight (its UPID lost in a restart) has ended; null
    /// when that removed it. Someone else's guest comes back as it is: it is never waited on, only left alone.
    /// </summary>
    private async Task<ClusterResource?> OwnGuestSettledAsync(InstanceRow instance, ClusterResource guest, CancellationToken ct)
    {
        if (!await ownership.IsOursAsync(guest, instance, ct) || await guests.WaitForRunningTasksAsync(guest.Node!, guest.Vmid!.Value, ct) == 0)
        {
            return guest;
        }

        var after = await guests.FindGuestAsync(guest.Vmid!.Value, ct);
        if (after is not null)
        {
            await guests.WaitUntilUnlockedAsync(after.Node!, after.Kind ?? GuestOwnership.KindOf(instance), after.Vmid!.Value, ct);
        }

        return after;
    }
}
