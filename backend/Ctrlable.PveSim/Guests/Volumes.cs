using System.Globalization;
using System.Text.RegularExpressions;
using Ctrlable.PveSim.Cluster;

namespace Ctrlable.PveSim.Guests;

/// <summary>Volume names as the storage plugins create them (vm-/subvol-/base- prefixes, per plugin layout).</summary>
public static partial class Volumes
{
    public static string New(SimStorage storage, GuestKind kind, int vmid, int index)
    {
        var name = kind == GuestKind.Lxc && storage.Type is "zfspool" or "btrfs" or "dir" or "nfs" or "cifs" or "cephfs"
            ? $"subvol-{vmid}-disk-{index}"
            : $"vm-{vmid}-disk-{index}";
        return storage.IsFileBased
            ? $"{storage.Id}:{vmid}/{name}{(name.StartsWith("subvol", StringComparison.Ordinal) ? "" : ".raw")}"
            : $"{storage.Id}:{name}";
    }

    /// <summary>
    /// A linked clone of a base volume, named as each plugin's clone_image returns it (pve-storage 9.1.7): ZFS and RBD
    /// below the base (<c>base-9000-disk-0/vm-105-disk-0</c>; ZFSPoolPlugin/RBDPlugin "$basename/$name"), directory
    /// storages as a qcow2 backed by it (<c>9000/base-9000-disk-0.qcow2/105/vm-105-disk-0.qcow2</c>, Plugin.pm), LVM-thin
    /// and btrfs as an independent snapshot that does not name it (<c>vm-105-disk-0</c>, <c>105/vm-105-disk-0.raw</c>).
    /// </summary>
    public static string Linked(SimStorage storage, GuestKind kind, int vmid, int index, GuestDisk baseDisk)
    {
        var name = kind == GuestKind.Lxc && storage.Type == "zfspool" ? $"subvol-{vmid}-disk-{index}" : $"vm-{vmid}-disk-{index}";
        return storage.Type switch
        {
            "zfspool" or "rbd" => $"{storage.Id}:{baseDisk.VolumeName}/{name}",
            "btrfs" => $"{storage.Id}:{vmid}/{name}.raw",
            _ when storage.IsFileBased => $"{storage.Id}:{baseDisk.VolumeName}/{vmid}/{name}.qcow2",
            _ => $"{storage.Id}:{name}",
        };
    }

    /// <summary>
    /// Whether <paramref name="volume"/> is a linked clone of the base volume <paramref name="baseVolume"/>: on the same
    /// storage, naming it as its origin (pve-storage <c>volume_is_base_and_used</c>: parse_volname's basename). LVM-thin
    /// and btrfs raw clones name no origin, so nothing holds their base volume.
    /// </summary>
    public static bool IsLinkedCloneOf(string volume, string baseVolume)
    {
        var clone = GuestDisk.Parse(volume);
        var origin = GuestDisk.Parse(baseVolume);
        if (!clone.IsManaged || !origin.IsManaged || clone.StorageId != origin.StorageId)
        {
            return false;
        }

        var baseName = origin.VolumeName.Split('/')[^1];
        var parts = clone.VolumeName.Split('/');
        return parts[..^1].Contains(baseName, StringComparer.Ordinal);
    }

    /// <summary>The name a guest volume gets when its guest becomes a template (create_base: vm- → base-, subvol- → basevol-).</summary>
    public static string ToBase(string volume, int vmid) =>
        volume.Replace($"vm-{vmid}-", $"base-{vmid}-", StringComparison.Ordinal)
            .Replace($"subvol-{vmid}-", $"basevol-{vmid}-", StringComparison.Ordinal);

    /// <summary>Template disks carry the "base-" (or "basevol-") prefix that linked clones require.</summary>
    public static bool IsBase(GuestDisk disk) =>
        disk.VolumeName.Split('/')[^1].StartsWith("base", StringComparison.Ordinal);

    /// <summary>
    /// The disk number a new volume of <paramref name="guest"/> gets on <paramref name="storage"/>: the lowest one no
    /// volume of the guest there uses yet, whatever its prefix (the plugins' find_free_diskname).
    /// </summary>
    public static int NextIndex(SimGuest guest, SimStorage storage)
    {
        var used = guest.Config
            .Where(c => VolumeKey().IsMatch(c.Key))
            .Select(c => GuestDisk.Parse(c.Value))
            .Where(d => d.IsManaged && d.StorageId == storage.Id)
            .Select(d => DiskName().Match(d.VolumeName.Split('/')[^1]))
            .Where(m => m.Success && m.Groups[1].Value == guest.Vmid.ToString(CultureInfo.InvariantCulture))
            .Select(m => int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))
            .ToHashSet();
        var index = 0;
        while (used.Contains(index))
        {
            index++;
        }

        return index;
    }

    /// <summary>The VMID a volume belongs to, from its name (the plugins' parse_volname); null for a path or a foreign name.</summary>
    public static int? Owner(string volume)
    {
        var disk = GuestDisk.Parse(volume);
        return disk.IsManaged && DiskName().Match(disk.VolumeName.Split('/')[^1]) is { Success: true } m
            ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : null;
    }

    [GeneratedRegex(@"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0|rootfs|mp\d+|unused\d+)$")]
    private static partial Regex VolumeKey();

    [GeneratedRegex(@"^(?:vm|base|subvol|basevol)-(\d+)-disk-(\d+)(?:\.\w+)?$")]
    private static partial Regex DiskName();
}
