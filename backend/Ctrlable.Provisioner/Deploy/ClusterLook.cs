using Ctrlable.Provisioner.Proxmox;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// One <c>GET /cluster/resources</c> (nodes, storages and guests) shared by the deploy steps that ask within
/// <see cref="Lifetime"/> of its start, also while it is in flight: a stack's clone plans and VMID allocations, started
/// together, make one read instead of one each (15 in parallel on a 300-guest cluster took Proxmox 0.5–1.6 s each).
/// Its node memory and status figures are pvestatd's, written every 10 s (PVE/Service/pvestatd.pm), so sharing them for
/// 2 s loses nothing; a guest created meanwhile may be missing from it, which is why every VMID is still confirmed with
/// Proxmox before it is used, and a clone to a node that went away fails with Proxmox's own answer. Finding a guest's
/// node (<see cref="CurrentAsync"/>) shares only a read still in flight: a guest migrated a second ago is where it is now.
/// </summary>
public sealed class ClusterLook(ProxmoxClient proxmox, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    private readonly Lock _sync = new();
    private (Task<IReadOnlyList<ClusterResource>> Read, long StartedAt)? _last;

    /// <summary>A look started within <see cref="Lifetime"/>, else a new one (the deploy steps).</summary>
    public Task<IReadOnlyList<ClusterResource>> ResourcesAsync(CancellationToken ct) => LookAsync(Lifetime, ct);

    /// <summary>
    /// A look still in flight, else a new one: as fresh as a read of its own (a guest an admin migrated is found on its
    /// new node at once), shared by the askers of the same moment (<see cref="GuestLocator"/>).
    /// </summary>
    public Task<IReadOnlyList<ClusterResource>> CurrentAsync(CancellationToken ct) => LookAsync(TimeSpan.Zero, ct);

    private Task<IReadOnlyList<ClusterResource>> LookAsync(TimeSpan maxAge, CancellationToken ct)
    {
        Task<IReadOnlyList<ClusterResource>> read;
        lock (_sync)
        {
            var reusable = _last is { } last && !last.Read.IsFaulted && !last.Read.IsCanceled
                && (!last.Read.IsCompleted || time.GetElapsedTime(last.StartedAt) < maxAge)
                && time.GetElapsedTime(last.StartedAt) < Lifetime;
            if (!reusable)
            {
                // Not tied to the first asker's token: another step may be waiting on the same read.
                _last = (proxmox.GetClusterResourcesAsync(null, CancellationToken.None), time.GetTimestamp());
            }

            read = _last!.Value.Read;
        }

        return read.WaitAsync(ct);
    }
}
