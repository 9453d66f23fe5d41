using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Ctrlable.PveSim.Guests;

public enum GuestKind
{
    Lxc,
    Qemu,
}

/// <summary>
/// A container or VM: its config file (key → value, exactly what GET config returns, including
/// <c>lock</c> and <c>template</c>) plus the runtime state pvestatd would report.
/// </summary>
public sealed partial class SimGuest(int vmid, GuestKind kind, string node, DateTimeOffset createdAt)
{
    public int Vmid { get; } = vmid;

    public GuestKind Kind { get; } = kind;

    public string Node { get; set; } = node;

    public SortedDictionary<string, string> Config { get; } = new(StringComparer.Ordinal);

    public DateTimeOffset CreatedAt { get; set; } = createdAt;

    public bool Running { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    /// <summary>Bumped on every start/stop so a stale boot timer of an earlier run does nothing.</summary>
    public int RunGeneration { get; set; }

    /// <summary>Set once the guest's network is up after boot (LXC interfaces / DHCP lease, or a static <c>ip=</c>).</summary>
    public IPAddress? Address { get; set; }

    /// <summary>The prefix length of <see cref="Address"/> when it is static (<c>ip=10.0.0.5/24</c>); null = the emulated DHCP network's.</summary>
    public int? AddressPrefix { get; set; }

    /// <summary>The default gateway a static setting gives the guest (<c>gw=</c>); null with DHCP (the DHCP network's).</summary>
    public IPAddress? Gateway { get; set; }

    public bool NetworkUp { get; set; }

    public bool AgentUp { get; set; }

    public bool FirstBootDone { get; set; }

    /// <summary>
    /// Home Assistant OS only: Core is on this VM's disk (its Supervisor downloaded it on an earlier boot, or the disk
    /// was cloned from one that had it), so HAOS starts Core without the "Preparing Home Assistant" landing phase.
    /// </summary>
    public bool HomeAssistantCoreOnDisk { get; set; }

    /// <summary>The template (or guest) this one was cloned from.</summary>
    public int? ClonedFrom { get; set; }

    /// <summary>The template whose base volume this guest's disks are linked to.</summary>
    public int? LinkedTo { get; set; }

    public int Pid { get; set; }

    /// <summary>Snapshots by name (the config file's [snapname] sections), oldest first; the config's <c>parent</c> names the latest.</summary>
    public List<SimSnapshot> Snapshots { get; } = [];

    public string TypeName => Kind == GuestKind.Lxc ? "lxc" : "qemu";

    /// <summary>"CT" or "VM", as Proxmox words its messages.</summary>
    public string Word => Kind == GuestKind.Lxc ? "CT" : "VM";

    public string? Lock => Config.GetValueOrDefault("lock");

    public bool IsTemplate => Config.GetValueOrDefault("template") == "1";

    public string Name => Kind == GuestKind.Lxc
        ? Config.GetValueOrDefault("hostname") ?? $"CT{Vmid}"
        : Config.GetValueOrDefault("name") ?? $"VM {Vmid}";

    public IReadOnlyList<string> Tags =>
        Config.TryGetValue("tags", out var tags) ? Schema.Formats.SplitList(tags).ToList() : [];

    public int Cores => int.TryParse(Config.GetValueOrDefault("cores"), CultureInfo.InvariantCulture, out var c) ? c : 1;

    public long MemoryBytes => (long.TryParse(Config.GetValueOrDefault("memory"), CultureInfo.InvariantCulture, out var m) ? m : 512) * 1024 * 1024;

    public long SwapBytes => (long.TryParse(Config.GetValueOrDefault("swap"), CultureInfo.InvariantCulture, out var s) ? s : 512) * 1024 * 1024;

    /// <summary>SHA1 of the config file text, as the <c>digest</c> of GET config.</summary>
    public string Digest
    {
        get
        {
            var text = new StringBuilder();
            foreach (var (key, value) in Config)
            {
                text.Append(key).Append(": ").Append(value).Append('\n');
            }

            return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        }
    }

    /// <summary>
    /// rootfs/mpN (LXC) or ide/sata/scsi/virtio/efidisk/tpmstate (QEMU) keys, cdroms excluded: storage volumes and
    /// absolute paths (QEMU drives root@pam passed as a file, LXC bind mounts).
    /// </summary>
    public IEnumerable<(string Key, GuestDisk Disk)> Drives =>
        Config
            .Where(c => (Kind == GuestKind.Lxc ? LxcDiskKey() : QemuDiskKey()).IsMatch(c.Key))
            .Select(c => (c.Key, GuestDisk.Parse(c.Value)))
            .Where(d => !d.Item2.IsCdrom && d.Item2.Volume.Length > 0);

    /// <summary>The drives on a storage (PVE-managed volumes); paths have no storage and are never allocated or freed.</summary>
    public IEnumerable<(string Key, GuestDisk Disk)> Disks => Drives.Where(d => d.Disk.IsManaged);

    /// <summary>Volumes a replaced or removed drive left behind (<c>unusedN</c>); destroying the guest frees them.</summary>
    public IEnumerable<string> UnusedVolumes => Config.Where(c => UnusedKey().IsMatch(c.Key)).Select(c => c.Value);

    /// <summary>
    /// maxdisk: a VM's first boot-order drive that is no cdrom (qemu-server bootdisk_size, paths included); without a
    /// boot order (qm create always writes one, the emulator does not) the first volume, as for containers.
    /// </summary>
    public long BootDiskBytes =>
        Kind == GuestKind.Qemu && BootDrives() is { } boot
            ? boot.Select(key => Config.TryGetValue(key, out var line) ? GuestDisk.Parse(line) : null)
                .FirstOrDefault(d => d is { IsCdrom: false, Volume.Length: > 0 })?.SizeBytes ?? 0
            : Disks.Select(d => d.Disk.SizeBytes).FirstOrDefault();

    public IEnumerable<(string Key, string Value)> Nets =>
        Config.Where(c => NetKey().IsMatch(c.Key)).Select(c => (c.Key, c.Value));

    /// <summary>get_bootdisks: <c>boot: order=a;b</c> (drive names only), else the legacy <c>bootdisk</c>; null if neither is set.</summary>
    private IReadOnlyList<string>? BootDrives()
    {
        var boot = Config.GetValueOrDefault("boot");
        var order = boot?.Split(',').FirstOrDefault(p => p.StartsWith("order=", StringComparison.Ordinal));
        if (order is not null)
        {
            return order["order=".Length..].Split(';', StringSplitOptions.RemoveEmptyEntries).Where(k => QemuDiskKey().IsMatch(k)).ToList();
        }

        return Config.TryGetValue("bootdisk", out var bootdisk) ? [bootdisk] : boot is null ? null : [];
    }

    [GeneratedRegex(@"^(rootfs|mp\d+)$")]
    private static partial Regex LxcDiskKey();

    [GeneratedRegex(@"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$")]
    private static partial Regex QemuDiskKey();

    /// <summary>ide/sata/scsi/virtio N, efidisk0, tpmstate0: the QEMU config keys that hold drives.</summary>
    public static bool IsQemuDriveKey(string key) => QemuDiskKey().IsMatch(key);

    [GeneratedRegex(@"^net\d+$")]
    private static partial Regex NetKey();

    [GeneratedRegex(@"^unused\d+$")]
    private static partial Regex UnusedKey();
}

/// <summary>
/// A snapshot: its section of the config file (a copy of the config when it was taken) and, in the emulator, what was on the
/// guest's disks then (<see cref="FirstBootDone"/>, Home Assistant's disk image) so a rollback brings it back.
/// </summary>
public sealed class SimSnapshot(string name, string? description, long snaptime, string? parent, IReadOnlyDictionary<string, string> config)
{
    public string Name { get; } = name;

    public string? Description { get; set; } = description;

    public long Snaptime { get; } = snaptime;

    public string? Parent { get; set; } = parent;

    /// <summary><c>snapstate: prepare</c> while the snapshot task runs.</summary>
    public string? Snapstate { get; set; }

    public IReadOnlyDictionary<string, string> Config { get; } = config;

    public bool FirstBootDone { get; init; }

    public bool HomeAssistantCoreOnDisk { get; init; }

    /// <summary>The Home Assistant emulator's disk at the snapshot (null: none ran in the guest).</summary>
    public object? HomeAssistantImage { get; init; }
}

/// <summary>The volume and size of a disk line (<c>local-lvm:vm-105-disk-0,size=8G</c>).</summary>
public sealed partial record GuestDisk(string Volume, long SizeBytes, bool IsCdrom, string Rest)
{
    public string StorageId => Volume.Split(':')[0];

    public string VolumeName => Volume.Contains(':') ? Volume[(Volume.IndexOf(':') + 1)..] : Volume;

    /// <summary>A volume ID (<c>STORAGE:NAME</c>, PVE::Storage::parse_volume_id) rather than a file or device path.</summary>
    public bool IsManaged => IsVolumeId(Volume);

    public static bool IsVolumeId(string volume) => VolumeId().IsMatch(volume);

    public static GuestDisk Parse(string value)
    {
        var volume = "";
        long size = 0;
        var cdrom = false;
        var rest = new List<string>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var key = eq < 0 ? null : part[..eq];
            var v = eq < 0 ? part : part[(eq + 1)..];
            switch (key)
            {
                case null or "volume" or "file":
                    volume = v;
                    break;
                case "size":
                    size = Schema.Formats.ParseSize(v) ?? 0;
                    break;
                case "media":
                    cdrom = v == "cdrom";
                    rest.Add(part);
                    break;
                default:
                    rest.Add(part);
                    break;
            }
        }

        return new GuestDisk(volume, size, cdrom || volume is "cdrom" or "none", string.Join(',', rest));
    }

    /// <summary>Volume first, then the required mp=, then the other options sorted (print_property_string order).</summary>
    public string Print(string volume)
    {
        var options = Rest.Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
        options.Add($"size={Schema.Formats.FormatSize(SizeBytes)}");
        var ordered = options
            .OrderBy(o => o.StartsWith("mp=", StringComparison.Ordinal) ? 0 : 1)
            .ThenBy(o => o.Split('=')[0], StringComparer.Ordinal);
        return string.Join(',', ordered.Prepend(volume));
    }

    [GeneratedRegex(@"^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$", RegexOptions.IgnoreCase)]
    private static partial Regex VolumeId();
}
