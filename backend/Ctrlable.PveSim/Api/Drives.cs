using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Schema;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// Disk lines as qm create / qm set and pct create / pct set handle them: qemu-server's $check_drive_param,
/// $check_storage_access, create_disks and vmconfig_register_unused_drive, and the <c>STORAGE:SIZE</c> allocation
/// both guest types share. A drive is a new disk (<c>STORAGE:SIZE</c>, optionally <c>import-from=</c>), an existing
/// volume (<c>STORAGE:NAME</c>) or, for root@pam only, an absolute path that no storage manages.
/// </summary>
internal static partial class Drives
{
    private static readonly byte[] Qcow2Magic = [0x51, 0x46, 0x49, 0xFB]; // "QFI\xfb"

    /// <summary>A <c>STORAGE:SIZE</c> request; <paramref name="Line"/> keeps the other drive options.</summary>
    public sealed record NewDisk(string Key, string StorageId, double SizeGiB, string? ImportFrom, GuestDisk Line);

    /// <summary>ide/sata/scsi/virtio, efidisk0, tpmstate0 (is_valid_drivename).</summary>
    public static bool IsQemuDrive(string key) => SimGuest.IsQemuDriveKey(key);

    public static bool IsNew(string value) => NewDiskVolume().IsMatch(GuestDisk.Parse(value).Volume);

    /// <summary>$check_drive_param: <c>import-from</c> only as <c>STORAGE:0</c>, with the options EFI and TPM disks need.</summary>
    public static void CheckImportSyntax(string key, string value)
    {
        var options = Options(GuestDisk.Parse(value));
        if (!options.ContainsKey("import-from"))
        {
            return;
        }

        var match = NewDiskVolume().Match(GuestDisk.Parse(value).Volume);
        if (!match.Success || double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) != 0)
        {
            throw PveException.ParamError(key, "'import-from' requires special syntax - use <storage ID>:0,import-from=<source>");
        }

        string[] required = key switch
        {
            "efidisk0" => ["efitype", "pre-enrolled-keys"],
            "tpmstate0" => ["version"],
            _ => [],
        };
        if (required.FirstOrDefault(o => !options.ContainsKey(o)) is { } missing)
        {
            throw PveException.ParamError(key, $"need to specify '{missing}' when using 'import-from'");
        }
    }

    /// <summary>$check_storage_access for one drive of qm create / qm set (before anything is allocated).</summary>
    public static void CheckStorageAccess(PveRequest r, string key, string value)
    {
        if (IsNew(value))
        {
            ParseNew(r, key, value, GuestKind.Qemu, "images");
        }
        else if (GuestDisk.Parse(value).Volume is var volume && volume.StartsWith('/'))
        {
            CheckVolumeAccess(r, volume);
        }
    }

    /// <summary>
    /// A <c>STORAGE:SIZE</c> disk: the storage exists, is available on the node and holds the content type, the caller
    /// may allocate space on it, an <c>import-from</c> source is readable; <c>format</c> is dropped (the storage decides).
    /// </summary>
    public static NewDisk ParseNew(PveRequest r, string key, string value, GuestKind kind, string content)
    {
        var state = r.Sim.State;
        var line = GuestDisk.Parse(value);
        var match = NewDiskVolume().Match(line.Volume);
        if (!match.Success)
        {
            // An existing volume: the emulator only creates new ones.
            throw new PveException(501, $"PveSim only emulates new disks (STORAGE:SIZE) for '{key}', not '{line.Volume}'");
        }

        var storageId = match.Groups[1].Value;
        if (kind == GuestKind.Qemu)
        {
            // qemu-server checks the privilege before it looks the storage up.
            state.Access.Check(r.AuthId, $"/storage/{storageId}", ["Datastore.AllocateSpace"]);
        }

        var storage = state.Storages.GetValueOrDefault(storageId) ?? throw PveException.Die($"storage '{storageId}' does not exist");
        if (!storage.AvailableOn(r.Node))
        {
            throw PveException.Die($"storage '{storageId}' is not available on node '{r.Node}'");
        }

        if (!storage.HasContent(content))
        {
            throw kind == GuestKind.Lxc
                ? PveException.Die($"storage '{storageId}' does not support container directories")
                : PveException.ParamError("storage", $"storage '{storageId}' does not support vm images");
        }

        state.Access.Check(r.AuthId, $"/storage/{storageId}", ["Datastore.AllocateSpace"]);
        var size = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        string? importFrom = null;
        var rest = new List<string>();
        foreach (var option in line.Rest.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (option.StartsWith("import-from=", StringComparison.Ordinal))
            {
                importFrom = option["import-from=".Length..];
                CheckVolumeAccess(r, importFrom);
            }
            else if (kind == GuestKind.Lxc || !option.StartsWith("format=", StringComparison.Ordinal))
            {
                rest.Add(option);
            }
        }

        if (kind == GuestKind.Lxc && size <= 0)
        {
            throw PveException.ParamError(key, "disk size must be positive");
        }

        return new NewDisk(key, storageId, size, importFrom, line with { Rest = string.Join(',', rest) });
    }

    /// <summary>
    /// PVE::Storage::check_volume_access for templates, ISOs, imports and drives. A path is root@pam's alone; the
    /// storage library dies without a newline there, so Perl appends where (HTTP 500, as any plain die).
    /// </summary>
    public static void CheckVolumeAccess(PveRequest r, string volume)
    {
        if (volume.StartsWith('/'))
        {
            if (r.AuthId != "root@pam")
            {
                // libpve-storage-perl 8.2.3 (PVE 8.2) / 9.1.x (PVE 9.1): the line of that die in PVE/Storage.pm.
                var line = r.Sim.State.Version == PveVersion.V8_2 ? 543 : 651;
                throw PveException.Die($"Only root can pass arbitrary filesystem paths. at /usr/share/perl5/PVE/Storage.pm line {line}.");
            }

            return;
        }

        var colon = volume.IndexOf(':');
        if (colon <= 0)
        {
            throw PveException.Die($"unable to parse volume ID '{volume}'");
        }

        var storageId = volume[..colon];
        if (!r.Sim.State.Storages.ContainsKey(storageId))
        {
            throw PveException.Die($"storage '{storageId}' does not exist");
        }

        r.Sim.State.Access.Check(r.AuthId, $"/storage/{storageId}", ["Datastore.AllocateSpace", "Datastore.Audit"], any: true);
    }

    /// <summary>
    /// create_disks for a new disk: allocates the next free volume of the guest on the storage (imported: sized from
    /// the source) and returns the config line. A template's new disks become base volumes.
    /// </summary>
    public static string Allocate(SimState state, SimGuest guest, NewDisk disk, Action<string> log)
    {
        var storage = state.Storages[disk.StorageId];
        var size = disk.ImportFrom is { } source ? ImportSize(state, source) : FixedOrRequestedSize(disk);
        var volume = Volumes.New(storage, guest.Kind, guest.Vmid, Volumes.NextIndex(guest, storage));
        if (disk.ImportFrom is not null)
        {
            log($"importing disk '{disk.ImportFrom}' to VM {guest.Vmid} ...");
            log($"transferred {Formats.FormatSize(size)} of {Formats.FormatSize(size)} (100.00%)");
        }
        else
        {
            log($"  Logical volume \"{volume[(volume.IndexOf(':') + 1)..]}\" created.");
        }

        if (guest.IsTemplate)
        {
            volume = Volumes.ToBase(volume, guest.Vmid);
        }

        return new GuestDisk(volume, size, false, disk.Line.Rest).Print(volume);
    }

    /// <summary>create_disks for an existing file path: volume_size_info gives its size, which the line records.</summary>
    public static string SizePath(string value)
    {
        var line = GuestDisk.Parse(value);
        var size = ImageSize(line.Volume) ?? throw PveException.Die($"volume {line.Volume} does not exist");
        return (line with { SizeBytes = size }).Print(line.Volume);
    }

    /// <summary>The virtual size of an import source: a storage file's size, or a path's (abs_filesystem_path, file_size_info).</summary>
    public static long ImportSize(SimState state, string source)
    {
        if (!source.StartsWith('/'))
        {
            var colon = source.IndexOf(':');
            var file = colon > 0 && state.Storages.GetValueOrDefault(source[..colon]) is { } storage ? storage.Files.GetValueOrDefault(source) : null;
            return file?.SizeBytes ?? throw PveException.Die($"cannot import from '{source}' - could not get size of {source}");
        }

        return ImageSize(source) ?? throw PveException.Die($"can't find file '{source}'");
    }

    /// <summary>qemu-img info's virtual size as far as the emulator reads it: a qcow2 header's size field, else the file length; null if there is no file.</summary>
    public static long? ImageSize(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = File.OpenRead(path);
        Span<byte> header = stackalloc byte[32];
        return stream.Read(header) == 32 && header[..4].SequenceEqual(Qcow2Magic)
            ? (long)BinaryPrimitives.ReadUInt64BigEndian(header[24..32])
            : stream.Length;
    }

    /// <summary>
    /// vmconfig_register_unused_drive: a replaced or removed drive whose volume the guest owns becomes <c>unusedN</c>
    /// (the lowest free N, no duplicates); a path or another guest's volume is just dropped, and so is a volume whose
    /// storage no longer exists.
    /// </summary>
    public static void RegisterUnused(SimState state, SimGuest guest, string line)
    {
        var drive = GuestDisk.Parse(line);
        if (drive.IsCdrom || !drive.IsManaged || !state.Storages.ContainsKey(drive.StorageId) || Volumes.Owner(drive.Volume) != guest.Vmid)
        {
            return;
        }

        if (guest.UnusedVolumes.Contains(drive.Volume))
        {
            return;
        }

        var index = Enumerable.Range(0, 256).Select(i => (int?)i).FirstOrDefault(i => !guest.Config.ContainsKey($"unused{i}"))
            ?? throw PveException.Die("Too many unused volumes - please delete them first.");
        guest.Config[$"unused{index}"] = drive.Volume;
    }

    /// <summary>write_vm_config drops an <c>unusedN</c> whose volume a drive uses again.</summary>
    public static void DropReattachedUnused(SimGuest guest)
    {
        var used = guest.Drives.Select(d => d.Disk.Volume).ToHashSet(StringComparer.Ordinal);
        foreach (var key in guest.Config.Where(c => UnusedKey().IsMatch(c.Key) && used.Contains(c.Value)).Select(c => c.Key).ToList())
        {
            guest.Config.Remove(key);
        }
    }

    /// <summary>EFI vars disks are fixed size (4M for efitype=4m, else 528K), TPM state 4M, other new disks as asked.</summary>
    private static long FixedOrRequestedSize(NewDisk disk) => disk.Key switch
    {
        "efidisk0" => disk.Line.Rest.Contains("efitype=4m", StringComparison.Ordinal) ? 4L << 20 : 528L << 10,
        "tpmstate0" => 4L << 20,
        _ => (long)(disk.SizeGiB * (1L << 30)),
    };

    private static Dictionary<string, string> Options(GuestDisk line) =>
        line.Rest.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(o => o.Split('=', 2))
            .GroupBy(o => o[0], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().ElementAtOrDefault(1) ?? "", StringComparer.Ordinal);

    [GeneratedRegex(@"^unused\d+$")]
    private static partial Regex UnusedKey();

    [GeneratedRegex(@"^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(\.\d+)?)$", RegexOptions.IgnoreCase)]
    private static partial Regex NewDiskVolume();
}
