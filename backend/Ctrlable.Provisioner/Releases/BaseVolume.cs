using System.Text.RegularExpressions;

namespace Ctrlable.Provisioner.Releases;

/// <summary>
/// A template's base volume and how linked clones name it, per pve-storage's <c>parse_volname</c>: ZFS
/// (<c>basevol-9101-disk-0/subvol-1001-disk-0</c>, <c>base-9100-disk-0/vm-1000-disk-0</c>) and Ceph RBD
/// (<c>base-9100-disk-0/vm-1000-disk-0</c>) put the base before a slash; directory-type storages (dir, NFS, CIFS,
/// CephFS, btrfs qcow2) name it in the path (<c>9100/base-9100-disk-0.qcow2/1000/vm-1000-disk-0.qcow2</c>). LVM-thin
/// (<c>vm-1000-disk-0</c>) and btrfs raw/subvol clones do not name it: they do not depend on it (LVM-thin and btrfs
/// snapshots survive their origin) and Proxmox destroys such a template without asking.
/// </summary>
internal sealed partial record BaseVolume(string Storage, string Name, long Vmid)
{
    public static BaseVolume? Of(string volume)
    {
        var colon = volume.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return null;
        }

        var name = volume[(colon + 1)..].Split('/')[^1];
        var match = BaseName().Match(name);
        return match.Success ? new BaseVolume(volume[..colon], name, long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)) : null;
    }

    /// <summary>The other guest's volume names this base volume as its origin (same storage, the base name before its own).</summary>
    public bool IsHeldBy(string volume)
    {
        var colon = volume.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || volume[..colon] != Storage)
        {
            return false;
        }

        var parts = volume[(colon + 1)..].Split('/');
        return parts[..^1].Contains(Name, StringComparer.Ordinal);
    }

    [GeneratedRegex(@"^base(?:vol)?-(\d+)-disk-\d+(?:\.\w+)?$")]
    private static partial Regex BaseName();
}
