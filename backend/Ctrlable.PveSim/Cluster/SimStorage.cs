namespace Ctrlable.PveSim.Cluster;

/// <summary>A storage of storage.cfg (cluster-wide definition, optionally restricted to some nodes).</summary>
public sealed class SimStorage(string id, string type, string content)
{
    /// <summary>Storage types that can make linked clones of container and VM templates.</summary>
    public static readonly IReadOnlySet<string> LinkedCloneTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "lvmthin", "zfspool", "rbd", "btrfs",
    };

    private static readonly IReadOnlySet<string> FileTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "dir", "nfs", "cifs", "cephfs", "btrfs",
    };

    public string Id { get; } = id;

    /// <summary>Plugin type: dir, lvmthin, lvm, zfspool, rbd, btrfs, nfs, cifs, cephfs.</summary>
    public string Type { get; } = type;

    /// <summary>Comma-separated content types: rootdir, images, vztmpl, iso, backup, snippets.</summary>
    public string Content { get; set; } = content;

    public bool Shared { get; set; }

    public bool Enabled { get; set; } = true;

    /// <summary>Nodes the storage exists on; null = all nodes.</summary>
    public IReadOnlyList<string>? Nodes { get; set; }

    public long TotalBytes { get; set; } = 512L * 1024 * 1024 * 1024;

    public bool IsFileBased => FileTypes.Contains(Type);

    public bool AvailableOn(string node) => Enabled && (Nodes is null || Nodes.Contains(node));

    public bool HasContent(string content) => Content.Split(',').Contains(content);

    /// <summary>
    /// Files the storage holds besides guest disks (which live in guest configs): container templates
    /// (<c>local:vztmpl/debian-12-standard_12.12-1_amd64.tar.zst</c>), ISO images, imports. Keyed by volume id.
    /// </summary>
    public SortedDictionary<string, StoredVolume> Files { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// A file on a storage, as <c>GET /nodes/{node}/storage/{storage}/content</c> lists it. A backup (content <c>backup</c>)
/// names its guest (<see cref="Vmid"/>), carries vzdump's notes and the guest as it was (<see cref="Archive"/>, what a
/// restore brings back).
/// </summary>
public sealed record StoredVolume(string VolId, string ContentType, string Format, long SizeBytes, long CreatedUnix, int? Vmid = null, string? Notes = null, BackupArchive? Archive = null);

/// <summary>What a vzdump archive holds in the emulator: the guest's kind and config (its disks' lines name the source volumes).</summary>
public sealed record BackupArchive(string Kind, SortedDictionary<string, string> Config, bool HomeAssistantCoreOnDisk = false);
