using Ctrlable.Provisioner.Proxmox;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// One <c>GET /cluster/resources</c> (nodes, storages and guests) shared by the deploy steps that ask within
/// <see cref="Lifetime"/> of its start, also while it is in flight: a stack's clone plans and VMID allocations, started
/// together, make one read instead of one each (15 in parallel on a 300-guest cluster took Proxmox 0.5–1.6 s each).
/// Its node memory and status figures are pvestatd's, written every 10 s (PVE/Service/pvestatd.pm), so sharing them for
/// 2 s loses nothing; a guest created meanwhile may be missing from it, which is why every VMID is still confirmed with
/// Proxmox before it is used, and a clone to a node that went away fails with Proxmox's own answer.
/// </summary>
public sealed class ClusterLook(ProxmoxClient proxmox, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    private readonly Lock _sync = new();
    private (Task<IReadOnlyList<ClusterResource>> Read, long StartedAt)? _last;

    public Task<IReadOnlyList<ClusterResource>> ResourcesAsync(CancellationToken ct)
    {
        Task<IReadOnlyList<ClusterResource>> read;
        lock (_sync)
        {
            if (_last is not { } last || time.GetElapsedTime(last.StartedAt) >= Lifetime || last.Read.IsFaulted || last.Read.IsCanceled)
            {
                // Not tied to the first asker's token: another step may be waiting on the same read.
                last = (proxmox.GetClusterResourcesAsync(null, CancellationToken.None), time.GetTimestamp());
                _last = last;
            }

            read = last.Read;
        }

        return read.WaitAsync(ct);
    }
}
