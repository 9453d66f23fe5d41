using System.Net;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>The VMIDs of the deploy pipeline's clones: reserved in the database, checked with Proxmox, given up again.</summary>
public sealed class VmidAllocator(InstanceRepository instances, InstanceTransitions transitions, ProxmoxClient proxmox, IOptions<DeployOptions> deployOptions)
{
    /// <summary>Pipelines of this process allocate one at a time (the database's unique index guards against other processes).</summary>
    private readonly SemaphoreSlim _allocation = new(1, 1);
    private readonly DeployOptions _options = deployOptions.Value;

    /// <summary>The lowest free VMID in the configured range, reserved in the database first (unique among live instances), then checked with Proxmox.</summary>
    public Task<long?> AllocateAsync(InstanceRow instance, CancellationToken ct) =>
        AllocateAsync((vmid, token) => instances.TryReserveVmidAsync(instance.Id, vmid, token), token => instances.ClearVmidAsync(instance.Id, token), ct);

    /// <summary>
    /// The same search for a guest that is not an instance's (a backup restored into a new guest): <paramref name="reserve"/>
    /// records the candidate (false: taken meanwhile), <paramref name="giveUp"/> forgets it when none is left. Restored
    /// guests' VMIDs count as reserved (<see cref="InstanceRepository.ReservedVmidsAsync"/>).
    /// </summary>
    public async Task<long?> AllocateAsync(Func<long, CancellationToken, Task<bool>> reserve, Func<CancellationToken, Task> giveUp, CancellationToken ct)
    {
        await _allocation.WaitAsync(ct);
        try
        {
            return await AllocateVmidLockedAsync(reserve, giveUp, ct);
        }
        finally
        {
            _allocation.Release();
        }
    }

    private async Task<long?> AllocateVmidLockedAsync(Func<long, CancellationToken, Task<bool>> reserve, Func<CancellationToken, Task> giveUp, CancellationToken ct)
    {
        var reserved = await instances.ReservedVmidsAsync(ct);
        var used = (await proxmox.GetClusterResourcesAsync("vm", ct)).Where(r => r.Vmid is not null).Select(r => (long)r.Vmid!.Value).ToHashSet();
        for (long candidate = _options.VmidMin; candidate <= _options.VmidMax; candidate++)
        {
            if (reserved.Contains(candidate) || used.Contains(candidate))
            {
                continue;
            }

            if (!await reserve(candidate, ct))
            {
                return null; // another instance reserved it first: look again
            }

            // Guests the token cannot see still occupy VMIDs: ask Proxmox itself.
            if (await proxmox.IsVmidFreeAsync((int)candidate, ct))
            {
                return candidate;
            }

            used.Add(candidate);
        }

        // The last candidate tried is someone else's guest: the failed instance must not claim it.
        await giveUp(ct);
        throw new ProxmoxException(HttpStatusCode.Conflict, "GET", "/cluster/nextid", $"No free VMID left between {_options.VmidMin} and {_options.VmidMax} (Deploy:VmidMin/VmidMax).", new Dictionary<string, string>());
    }

    /// <summary>Gives up the instance's VMID (taken by someone else, or its clone failed); the next clone attempt allocates anew.</summary>
    public async Task ReleaseAsync(InstanceRow instance, CancellationToken ct)
    {
        await transitions.MoveAsync(instance.Id, new Transition(InstanceStates.Pending, "Choosing another VMID") { Source = InstanceSteps.Source }, ct);
        await instances.ClearVmidAsync(instance.Id, ct);
    }
}
