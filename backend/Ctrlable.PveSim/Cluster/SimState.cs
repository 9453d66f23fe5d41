using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.PveSim.Cluster;

/// <summary>
/// Everything pmxcfs would hold for the emulated cluster: nodes, storage.cfg, guest configs, user.cfg.
/// All reads and writes happen under <see cref="Sync"/>; handlers and task workers take it briefly.
/// </summary>
public sealed class SimState
{
    internal SimState(PveVersion version, string clusterName)
    {
        Version = version;
        ClusterName = clusterName;
        Access = new AccessControl(version);
    }

    public Lock Sync { get; } = new();

    public PveVersion Version { get; }

    public string ClusterName { get; }

    /// <summary>Datacenter mac_prefix used for generated MACs.</summary>
    public string MacPrefix { get; set; } = MacAddress.DefaultPrefix;

    public SortedDictionary<string, SimNode> Nodes { get; } = new(StringComparer.Ordinal);

    public SortedDictionary<string, SimStorage> Storages { get; } = new(StringComparer.Ordinal);

    public SortedDictionary<int, SimGuest> Guests { get; } = [];

    public AccessControl Access { get; }

    public SimGuest? Guest(int vmid) => Guests.GetValueOrDefault(vmid);

    public SimStorage AddStorage(string id, string type, string content, bool shared = false, long totalBytes = 512L * 1024 * 1024 * 1024, IReadOnlyList<string>? nodes = null)
    {
        lock (Sync)
        {
            var storage = new SimStorage(id, type, content) { Shared = shared, TotalBytes = totalBytes, Nodes = nodes };
            Storages[id] = storage;
            return storage;
        }
    }

    /// <summary>Lowest free VMID from 100 (datacenter next-id default range).</summary>
    public int NextFreeVmid()
    {
        lock (Sync)
        {
            var id = 100;
            while (Guests.ContainsKey(id))
            {
                id++;
            }

            return id;
        }
    }

    /// <summary>Bytes the guests' volumes take on a storage (per node for local storages).</summary>
    public long UsedBytes(SimStorage storage, string node)
    {
        lock (Sync)
        {
            // Linked clones share their template's base volume: only a tenth counts as their own data.
            return Guests.Values
                .Where(g => storage.Shared || g.Node == node)
                .SelectMany(g => g.Disks
                    .Where(d => d.Disk.StorageId == storage.Id)
                    .Select(d => g.LinkedTo is null ? d.Disk.SizeBytes : d.Disk.SizeBytes / 10))
                .Sum();
        }
    }
}
