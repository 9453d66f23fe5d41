using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Schema;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// Creating guests: POST /nodes/{node}/lxc (pve-container create_vm from an OS template) and POST
/// /nodes/{node}/qemu (qemu-server create_vm, including <c>STORAGE:SIZE</c> allocation and <c>import-from</c>),
/// plus PUT .../qemu/{vmid}/resize, and restores of a vzdump archive into a new guest (LXC <c>restore=1</c> with the
/// archive as <c>ostemplate</c>, QEMU <c>archive</c>; <c>unique</c> gives new MACs); a restore over an existing guest
/// (<c>force</c>) is not emulated.
/// The guest exists with <c>lock: create</c> while the vzcreate/qmcreate task runs and is removed if it fails.
/// </summary>
internal static partial class CreateApi
{
    // Parameters of the create calls that are not config keys.
    private static readonly HashSet<string> LxcControl = new(StringComparer.Ordinal)
    {
        "node", "vmid", "ostemplate", "password", "ssh-public-keys", "storage", "pool", "start", "restore", "force",
        "unique", "ignore-unpack-errors", "bwlimit", "ha-managed", "lock",
    };

    private static readonly HashSet<string> QemuControl = new(StringComparer.Ordinal)
    {
        "node", "vmid", "pool", "start", "archive", "force", "unique", "storage", "bwlimit", "live-restore", "lock",
    };

    public static void Map(PveRouter router) => router
        .Map("POST", "/nodes/{node}/lxc", CreateLxc)
        .Map("POST", "/nodes/{node}/qemu", CreateQemu)
        .Map("PUT", "/nodes/{node}/qemu/{vmid}/resize", ResizeQemu);

    private static JsonNode CreateLxc(PveRequest r)
    {
        var sim = r.Sim;
        var state = sim.State;
        var vmid = r.Vmid;
        if (r.Flag("restore") == true)
        {
            return Restore(r, GuestKind.Lxc, r.Get("ostemplate")!);
        }

        var ostemplate = r.Get("ostemplate")!;
        var unprivileged = r.Flag("unprivileged") ?? false;
        var defaultStorage = r.Get("storage") ?? "local";
        SimGuest guest;
        List<Drives.NewDisk> disks;
        lock (state.Sync)
        {
            CheckAllocate(r, vmid);
            if (state.Version == PveVersion.V9_1 && !unprivileged)
            {
                state.Access.Check(r.AuthId, "/", ["Sys.Modify"]);
            }

            Drives.CheckVolumeAccess(r, ostemplate);
            CheckUnused(r, vmid);

            guest = new SimGuest(vmid, GuestKind.Lxc, r.Node, sim.Clock.Now);
            var c = guest.Config;
            c["unprivileged"] = unprivileged ? "1" : "0";
            foreach (var (key, value) in r.Params.Where(p => !LxcControl.Contains(p.Key)))
            {
                GuestConfigApi.CheckLxcOption(r, guest, key, value);
                if (key == "rootfs" || MpKey().IsMatch(key))
                {
                    continue;
                }

                // pve-container writes the interface type (veth) into the config.
                c[key] = NetKey().IsMatch(key)
                    ? ApiHelpers.NormalizeNet(sim.Schema, GuestKind.Lxc, value.Contains("type=", StringComparison.Ordinal) ? value : value + ",type=veth", state.MacPrefix, newMac: false)
                    : value;
            }

            c.TryAdd("arch", "amd64");
            c.TryAdd("hostname", $"CT{vmid}");
            c.TryAdd("memory", "512");
            c.TryAdd("swap", "512");
            c.TryAdd("ostype", OsTypeOf(ostemplate));
            if (!unprivileged)
            {
                c.Remove("unprivileged");
            }

            // rootfs: STORAGE:SIZE_GiB (default: 4 GiB on the storage parameter), mount points alike.
            disks = [];
            var rootfs = r.Get("rootfs") ?? $"{defaultStorage}:4";
            disks.Add(Drives.ParseNew(r, "rootfs", rootfs, GuestKind.Lxc, "rootdir"));
            foreach (var (key, value) in r.Params.Where(p => MpKey().IsMatch(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                disks.Add(Drives.ParseNew(r, key, value, GuestKind.Lxc, "rootdir"));
            }

            c["lock"] = "create";
            state.Guests[vmid] = guest;
        }

        var pool = r.Get("pool");
        var start = r.Flag("start") == true;
        var duration = sim.Timings.CreateContainer;
        var task = sim.Tasks.Start(r.Node, "vzcreate", vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, duration, async (t, ct) =>
        {
            await sim.Clock.Delay(duration, ct);
            lock (state.Sync)
            {
                t.FailIfInjected();
                if (!ostemplate.StartsWith('/') && FindFile(state, ostemplate) is null)
                {
                    throw new TaskFailedException($"unable to create CT {vmid} - volume '{ostemplate}' does not exist");
                }

                if (ostemplate.StartsWith('/') && !File.Exists(ostemplate))
                {
                    throw new TaskFailedException($"unable to create CT {vmid} - template file '{ostemplate}' does not exist");
                }

                foreach (var disk in disks)
                {
                    guest.Config[disk.Key] = Drives.Allocate(state, guest, disk, t.Log);
                }

                t.Log($"extracting archive '{TemplatePath(ostemplate)}'");
                t.Log($"Detected container architecture: {guest.Config["arch"]}");
                t.Log("Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...");
                guest.Config.Remove("lock");
                AddToPool(state, pool, vmid);
                if (start)
                {
                    GuestRuntime.Started(sim, guest);
                }
            }
        }, onFailure: _ => Remove(state, guest));

        return task.Upid.ToString();
    }

    private static JsonNode CreateQemu(PveRequest r)
    {
        var sim = r.Sim;
        var state = sim.State;
        var vmid = r.Vmid;
        if (r.Has("archive"))
        {
            return Restore(r, GuestKind.Qemu, r.Get("archive")!);
        }

        SimGuest guest;
        List<Drives.NewDisk> disks = [];
        List<string> paths = [];
        lock (state.Sync)
        {
            CheckAllocate(r, vmid);
            CheckUnused(r, vmid);

            guest = new SimGuest(vmid, GuestKind.Qemu, r.Node, sim.Clock.Now);
            var c = guest.Config;
            foreach (var (key, value) in r.Params.Where(p => !QemuControl.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                GuestConfigApi.CheckQemuOption(r, guest, key, value);
                if (Drives.IsQemuDrive(key))
                {
                    Drives.CheckImportSyntax(key, value);
                    if (Drives.IsNew(value))
                    {
                        disks.Add(Drives.ParseNew(r, key, value, GuestKind.Qemu, "images"));
                        continue;
                    }

                    if (GuestDisk.Parse(value).Volume is var volume && volume.StartsWith('/'))
                    {
                        Drives.CheckVolumeAccess(r, volume);
                        paths.Add(key);
                    }
                }

                if (NetKey().IsMatch(key))
                {
                    ApiHelpers.CheckBridgeAccess(r, GuestKind.Qemu, value);
                    c[key] = ApiHelpers.NormalizeNet(sim.Schema, GuestKind.Qemu, value, state.MacPrefix, newMac: false);
                    continue;
                }

                c[key] = value;
            }

            c.TryAdd("smbios1", $"uuid={Guid.NewGuid()}");
            c.TryAdd("vmgenid", Guid.NewGuid().ToString());
            c["meta"] = $"creation-qemu={(state.Version == PveVersion.V9_1 ? "10.0.2" : "8.1.5")},ctime={sim.Clock.UnixNow}";
            c["lock"] = "create";
            state.Guests[vmid] = guest;
        }

        var pool = r.Get("pool");
        var start = r.Flag("start") == true;
        var duration = sim.Timings.CreateVm;
        var task = sim.Tasks.Start(r.Node, "qmcreate", vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, duration, async (t, ct) =>
        {
            await sim.Clock.Delay(duration, ct);
            lock (state.Sync)
            {
                t.FailIfInjected();
                try
                {
                    // create_disks, in key order: new volumes are allocated or imported, a path drive records its size.
                    foreach (var key in disks.Select(d => d.Key).Concat(paths).Order(StringComparer.Ordinal))
                    {
                        guest.Config[key] = disks.FirstOrDefault(d => d.Key == key) is { } disk
                            ? Drives.Allocate(state, guest, disk, t.Log)
                            : Drives.SizePath(guest.Config[key]);
                    }
                }
                catch (PveException e)
                {
                    throw new TaskFailedException($"unable to create VM {vmid} - {e.Message}");
                }

                guest.Config.Remove("lock");
                AddToPool(state, pool, vmid);
                if (start)
                {
                    GuestRuntime.Started(sim, guest);
                }
            }
        }, onFailure: _ => Remove(state, guest));

        return task.Upid.ToString();
    }

    /// <summary>
    /// A restore into a VMID that is free: VM.Allocate (on the pool when one is named), the archive's access
    /// (check_volume_access: Datastore.AllocateSpace on its storage and VM.Backup on its guest), Datastore.AllocateSpace on
    /// the storage the disks go to; on PVE 9 a privileged container also needs Sys.Modify on '/'. QEMU takes no config
    /// options beside the archive. The guest is locked <c>create</c> while the vzrestore/qmrestore task runs.
    /// </summary>
    private static JsonNode Restore(PveRequest r, GuestKind kind, string archive)
    {
        var sim = r.Sim;
        var state = sim.State;
        var vmid = r.Vmid;
        if (r.Flag("force") == true)
        {
            throw new PveException(501, "PveSim does not emulate restoring over an existing guest (force)");
        }

        if (kind == GuestKind.Qemu && r.Params.Keys.Where(k => !QemuControl.Contains(k)).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } extra)
        {
            throw PveException.ParamError("archive", $"option conflicts with other options ({string.Join(' ', extra)})");
        }

        var targetStorage = r.Get("storage");
        var unique = r.Flag("unique") == true;
        SimGuest guest;
        List<(string Key, GuestDisk Disk, SimStorage Target)> disks;
        lock (state.Sync)
        {
            CheckAllocate(r, vmid);
            var colon = archive.IndexOf(':');
            var file = FindFile(state, archive);
            if (colon <= 0 || file is not { ContentType: "backup", Archive: { } content })
            {
                throw PveException.Die($"volume '{archive}' does not exist");
            }

            BackupApi.CanAccessBackup(state, r.AuthId, archive[..colon], file, noError: false);
            if (content.Kind != (kind == GuestKind.Lxc ? "lxc" : "qemu"))
            {
                throw PveException.Die($"archive '{archive}' is not a {(kind == GuestKind.Lxc ? "container" : "VM")} backup");
            }

            if (kind == GuestKind.Lxc && state.Version == PveVersion.V9_1 && content.Config.GetValueOrDefault("unprivileged") != "1")
            {
                state.Access.Check(r.AuthId, "/", ["Sys.Modify"]);
            }

            CheckUnused(r, vmid);
            guest = new SimGuest(vmid, kind, r.Node, sim.Clock.Now) { HomeAssistantCoreOnDisk = content.HomeAssistantCoreOnDisk };
            foreach (var (key, value) in content.Config.Where(c => !c.Key.StartsWith("unused", StringComparison.Ordinal)))
            {
                guest.Config[key] = NetKey().IsMatch(key) && unique
                    ? ApiHelpers.NormalizeNet(sim.Schema, kind, value, state.MacPrefix, newMac: true)
                    : value;
            }

            if (unique && kind == GuestKind.Qemu)
            {
                guest.Config["smbios1"] = $"uuid={Guid.NewGuid()}";
                guest.Config["vmgenid"] = Guid.NewGuid().ToString();
            }

            disks = [];
            foreach (var (key, disk) in guest.Disks.ToList())
            {
                var target = state.Storages.GetValueOrDefault(targetStorage ?? disk.StorageId)
                    ?? throw PveException.Die($"storage '{targetStorage ?? disk.StorageId}' does not exist");
                state.Access.Check(r.AuthId, $"/storage/{target.Id}", ["Datastore.AllocateSpace"]);
                disks.Add((key, disk, target));
            }

            guest.Config["lock"] = "create";
            state.Guests[vmid] = guest;
        }

        var pool = r.Get("pool");
        var start = r.Flag("start") == true;
        var duration = sim.Timings.Restore;
        var task = sim.Tasks.Start(r.Node, kind == GuestKind.Lxc ? "vzrestore" : "qmrestore", vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, duration, async (t, ct) =>
        {
            t.Log($"restore vma archive: {archive}");
            await sim.Clock.Delay(duration, ct);
            lock (state.Sync)
            {
                t.FailIfInjected();
                foreach (var (key, disk, target) in disks)
                {
                    var volume = Volumes.New(target, kind, vmid, Volumes.NextIndex(guest, target));
                    guest.Config[key] = disk.Print(volume);
                    t.Log($"new volume ID is '{volume}'");
                }

                guest.Config.Remove("lock");
                AddToPool(state, pool, vmid);
                if (start)
                {
                    GuestRuntime.Started(sim, guest);
                }
            }
        }, onFailure: _ => Remove(state, guest));

        return task.Upid.ToString();
    }

    /// <summary>qm resize: "+SIZE" grows by, "SIZE" grows to; shrinking is refused. A resize task.</summary>
    private static JsonNode ResizeQemu(PveRequest r)
    {
        var sim = r.Sim;
        var diskKey = r.Get("disk")!;
        var sizeText = r.Get("size")!;
        SimGuest guest;
        GuestDisk disk;
        long newSize;
        lock (sim.State.Sync)
        {
            if (r.OptionalFlag("skiplock") && r.AuthId != "root@pam")
            {
                throw PveException.ParamError("skiplock", "Only root may use this option.");
            }

            guest = ApiHelpers.Load(r);
            ApiHelpers.FlockConfig(r, guest.Vmid, GuestKind.Qemu);
            if (!r.OptionalFlag("skiplock"))
            {
                ApiHelpers.CheckLock(guest);
            }

            if (r.Get("digest") is { Length: > 0 } digest && digest != guest.Digest)
            {
                throw PveException.Die("checksum mismatch (file change by other user?)");
            }

            var match = ResizeSize().Match(sizeText);
            if (!match.Success)
            {
                throw PveException.Die($"invalid size string '{sizeText}'");
            }

            if (!guest.Config.TryGetValue(diskKey, out var line) || GuestDisk.Parse(line) is not { IsCdrom: false } parsed || parsed.Volume.Length == 0)
            {
                throw PveException.Die($"unable to resize disk '{diskKey}' - disk does not exist");
            }

            if (!parsed.IsManaged)
            {
                // parse_volname of a file path, before anything else looks at it.
                throw PveException.Die($"unable to parse volume ID '{parsed.Volume}'");
            }

            disk = parsed;
            var amount = (long)(double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) * Unit(match.Groups[4].Value));
            newSize = match.Groups[1].Success ? disk.SizeBytes + amount : amount;
            if (newSize < disk.SizeBytes)
            {
                throw PveException.Die("shrinking disks is not supported");
            }

            sim.State.Access.Check(r.AuthId, $"/storage/{disk.StorageId}", ["Datastore.AllocateSpace"]);
        }

        var task = sim.Tasks.Start(r.Node, "resize", guest.Vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, sim.Timings.Resize, async (t, ct) =>
        {
            await sim.Clock.Delay(sim.Timings.Resize, ct);
            lock (sim.State.Sync)
            {
                t.FailIfInjected();
                t.Log($"  Size of logical volume pve/{disk.VolumeName} changed from {Formats.FormatSize(disk.SizeBytes)} to {Formats.FormatSize(newSize)}.");
                guest.Config[diskKey] = (disk with { SizeBytes = newSize }).Print(disk.Volume);
            }
        });
        return task.Upid.ToString();
    }

    /// <summary>VM.Allocate on /vms/{vmid}, or on the pool (which must exist) when one is named.</summary>
    private static void CheckAllocate(PveRequest r, int vmid)
    {
        var access = r.Sim.State.Access;
        if (r.Get("pool") is { } pool)
        {
            if (!access.Pools.ContainsKey(pool))
            {
                throw PveException.PermissionDenied($"pool '{pool}' does not exist");
            }

            access.Check(r.AuthId, $"/pool/{pool}", ["VM.Allocate"]);
        }
        else
        {
            access.Check(r.AuthId, $"/vms/{vmid}", ["VM.Allocate"]);
        }
    }

    /// <summary>PVE::Cluster::check_vmid_unused: cluster-wide.</summary>
    private static void CheckUnused(PveRequest r, int vmid)
    {
        ApiHelpers.FlockConfig(r, vmid, ApiHelpers.KindOf(r));
        if (r.Sim.State.Guest(vmid) is { } existing)
        {
            throw PveException.Die($"{existing.Word} {vmid} already exists on node '{existing.Node}'");
        }
    }

    private static StoredVolume? FindFile(SimState state, string volid)
    {
        var colon = volid.IndexOf(':');
        return colon > 0 && state.Storages.GetValueOrDefault(volid[..colon]) is { } storage ? storage.Files.GetValueOrDefault(volid) : null;
    }

    private static string TemplatePath(string ostemplate) =>
        ostemplate.StartsWith('/') ? ostemplate : $"/var/lib/vz/template/cache/{ostemplate[(ostemplate.IndexOf('/') + 1)..]}";

    /// <summary>pct guesses ostype from the template (debian-12-standard... → debian).</summary>
    private static string OsTypeOf(string ostemplate)
    {
        var name = Path.GetFileName(ostemplate.Contains(':', StringComparison.Ordinal) ? ostemplate[(ostemplate.IndexOf(':') + 1)..] : ostemplate);
        var distro = name.Split('-', '_')[0];
        return distro is "debian" or "ubuntu" or "alpine" or "centos" or "fedora" or "archlinux" or "devuan" or "opensuse" or "gentoo" or "nixos"
            ? distro
            : "unmanaged";
    }

    private static void AddToPool(SimState state, string? pool, int vmid)
    {
        if (pool is not null && state.Access.Pools.TryGetValue(pool, out var p))
        {
            p.Vms.Add(vmid);
        }
    }

    private static void Remove(SimState state, SimGuest guest)
    {
        lock (state.Sync)
        {
            if (state.Guest(guest.Vmid) == guest)
            {
                state.Guests.Remove(guest.Vmid);
            }
        }
    }

    private static long Unit(string unit) => unit switch
    {
        "K" => 1L << 10,
        "M" => 1L << 20,
        "G" => 1L << 30,
        "T" => 1L << 40,
        _ => 1,
    };

    [GeneratedRegex(@"^net\d+$")]
    private static partial Regex NetKey();

    [GeneratedRegex(@"^mp\d+$")]
    private static partial Regex MpKey();

    [GeneratedRegex(@"^(\+)?(\d+(\.\d+)?)([KMGT])?$")]
    private static partial Regex ResizeSize();
}
