using Ctrlable.PveSim.Cluster;

namespace Ctrlable.PveSim.Guests;

/// <summary>Volume names as the storage plugins create them (vm-/subvol-/base- prefixes, per plugin layout).</summary>
public static class Volumes
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

    /// <summary>A linked clone of a base volume; ZFS names it below the base, like ZFSPoolPlugin.</summary>
    public static string Linked(SimStorage storage, GuestKind kind, int vmid, int index, GuestDisk baseDisk)
    {
        var name = kind == GuestKind.Lxc && storage.Type == "zfspool" ? $"subvol-{vmid}-disk-{index}" : $"vm-{vmid}-disk-{index}";
        return storage.Type switch
        {
            "zfspool" => $"{storage.Id}:{baseDisk.VolumeName}/{name}",
            "btrfs" => $"{storage.Id}:{vmid}/{name}.raw",
            _ => $"{storage.Id}:{name}",
        };
    }

    /// <summary>Template disks carry the "base-" (or "basevol-") prefix that linked clones require.</summary>
    public static bool IsBase(GuestDisk disk) =>
        disk.VolumeName.Split('/')[^1].StartsWith("base", StringComparison.Ordinal);
}
