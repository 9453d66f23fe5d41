using System.Net;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>The VMIDs of the deploy pipeline's clones: reserved in the database, checked with Proxmox, given up again.</summary>
public sealed class VmidAllocator(InstanceRepository instances, InstanceTransitions transitions, ProxmoxClient proxmox, ClusterLook look, IOptions<DeployOptions> deployOptions)
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
        // Candidates Proxmox said are taken: guests the token cannot see.
        var taken = new HashSet<long>();
        while (true)
        {
            var candidate = await ReserveNextAsync(reserve, taken, ct);
            if (candidate is null)
            {
                return null; // another instance reserved it first: look again
            }

            if (candidate == NoneLeft)
            {
                // The last candidate tried is someone else's guest: the failed instance must not claim it.
                await giveUp(ct);
                throw new ProxmoxException(HttpStatusCode.Conflict, "GET", "/cluster/nextid", $"No free VMID left between {_options.VmidMin} and {_options.VmidMax} (Deploy:VmidMin/VmidMax).", new Dictionary<string, string>());
            }

            // Guests the token cannot see still occupy VMIDs: ask Proxmox itself. Outside the lock: the candidate is
            // reserved, so the allocations queued behind this one choose and ask meanwhile.
            if (await proxmox.IsVmidFreeAsync((int)candidate, ct))
            {
                return candidate;
            }

            taken.Add(candidate.Value);
        }
    }

    private const long NoneLeft = -1;

    /// <summary>Reserves the lowest VMID in the range that no live instance holds and Proxmox does not show as used.</summary>
    private async Task<long?> ReserveNextAsync(Func<long, CancellationToken, Task<bool>> reserve, HashSet<long> taken, CancellationToken ct)
    {
        await _allocation.WaitAsync(ct);
        try
        {
            var reserved = await instances.ReservedVmidsAsync(ct);
            // Allocations in quick succession (a stack's instances) and their clone plans share one look at the cluster:
            // it only skips candidates; each one chosen is still confirmed free by Proxmox, and the ones this process
            // reserved since are in the database's list.
            var used = (await look.ResourcesAsync(ct)).Where(r => r.Vmid is not null).Select(r => (long)r.Vmid!.Value).ToHashSet();
            for (long candidate = _options.VmidMin; candidate <= _options.VmidMax; candidate++)
            {
                if (reserved.Contains(candidate) || used.Contains(candidate) || taken.Contains(candidate))
                {
                    continue;
                }

                return await reserve(candidate, ct) ? candidate : null;
            }

            return NoneLeft;
        }
        finally
        {
            _allocation.Release();
        }
    }

    /// <summary>Gives up the instance's VMID (taken by someone else, or its clone failed); the next clone attempt allocates anew.</summary>
    public async Task ReleaseAsync(InstanceRow instance, CancellationToken ct)
    {
        await transitions.MoveAsync(instance.Id, new Transition(InstanceStates.Pending, "Choosing another VMID") { Source = InstanceSteps.Source }, ct);
        await instances.ClearVmidAsync(instance.Id, ct);
    }
}
