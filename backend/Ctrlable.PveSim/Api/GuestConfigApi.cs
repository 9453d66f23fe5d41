using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Schema;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// Guest config read/update and template conversion. LXC has GET/PUT config only (POST is 501, as in
/// Proxmox); QEMU has GET, PUT (synchronous) and POST (a qmconfig task).
/// </summary>
internal static partial class GuestConfigApi
{
    private static readonly HashSet<string> ControlParams = new(StringComparer.Ordinal)
    {
        "node", "vmid", "digest", "delete", "revert", "skiplock", "force", "background_delay",
    };

    // qemu-server's option groups for per-option privilege checks ($check_vm_modify_config_perm).
    private static readonly HashSet<string> QemuCpu = ["cores", "cpu", "cpulimit", "cpuunits", "numa", "smp", "sockets", "vcpus", "affinity"];
    private static readonly HashSet<string> QemuMemory = ["memory", "balloon", "shares", "allow-ksm"];
    private static readonly HashSet<string> QemuHwType = ["acpi", "hotplug", "kvm", "machine", "scsihw", "smbios1", "tablet", "vga", "watchdog", "audio0", "rng0"];
    private static readonly HashSet<string> QemuGeneral = ["agent", "autostart", "bios", "description", "keyboard", "localtime", "migrate_downtime", "migrate_speed", "name", "onboot", "ostype", "protection", "reboot", "startdate", "startup", "tdf", "template"];
    private static readonly HashSet<string> QemuDisk = ["boot", "bootdisk", "vmstatestorage"];
    private static readonly HashSet<string> QemuCloudinit = ["cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver", "searchdomain", "sshkeys"];

    public static void Map(PveRouter router) => router
        .Map("GET", "/nodes/{node}/lxc/{vmid}/config", GetConfig)
        .Map("PUT", "/nodes/{node}/lxc/{vmid}/config", r => UpdateNow(r))
        .Map("GET", "/nodes/{node}/qemu/{vmid}/config", GetConfig)
        .Map("PUT", "/nodes/{node}/qemu/{vmid}/config", r => UpdateNow(r))
        .Map("POST", "/nodes/{node}/qemu/{vmid}/config", UpdateAsTask)
        .Map("POST", "/nodes/{node}/lxc/{vmid}/template", Template)
        .Map("POST", "/nodes/{node}/qemu/{vmid}/template", Template);

    /// <summary>Config values typed as the schema's returns declare them, plus the digest.</summary>
    private static JsonNode GetConfig(PveRequest r)
    {
        if (r.Has("snapshot") && r.Flag("current") == true)
        {
            var message = "cannot use 'snapshot' parameter with 'current'";
            throw PveException.ParamError(new Dictionary<string, string> { ["snapshot"] = message, ["current"] = message });
        }

        lock (r.Sim.State.Sync)
        {
            var g = ApiHelpers.Load(r);
            if (r.Get("snapshot") is { } snapshot)
            {
                throw PveException.Die($"snapshot '{snapshot}' does not exist");
            }

            var returns = r.Endpoint.Returns?["properties"] as JsonObject;
            var result = new JsonObject();
            foreach (var (key, value) in g.Config)
            {
                result[key] = Typed(returns, key, value);
            }

            result["digest"] = g.Digest;
            return result;
        }
    }

    private static JsonNode? UpdateNow(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var (g, changes, deletes) = CheckUpdate(r);
            Apply(r, g, changes, deletes);
        }

        return null;
    }

    /// <summary>POST config: checks before forking, the change itself inside the qmconfig task.</summary>
    private static JsonNode UpdateAsTask(PveRequest r)
    {
        SimGuest g;
        Dictionary<string, string> changes;
        List<string> deletes;
        lock (r.Sim.State.Sync)
        {
            (g, changes, deletes) = CheckUpdate(r);
        }

        var task = r.Sim.Tasks.Start(r.Node, "qmconfig", g.Vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, r.Sim.Timings.ConfigTask, async (t, ct) =>
        {
            await r.Sim.Clock.Delay(r.Sim.Timings.ConfigTask, ct);
            lock (r.Sim.State.Sync)
            {
                if (r.Sim.State.Guest(g.Vmid) != g)
                {
                    throw new TaskFailedException($"Configuration file 'nodes/{r.Node}/qemu-server/{g.Vmid}.conf' does not exist");
                }

                if (!r.OptionalFlag("skiplock"))
                {
                    ApiHelpers.CheckLock(g);
                }

                t.FailIfInjected();
                foreach (var (key, value) in changes)
                {
                    t.Log($"update VM {g.Vmid}: -{key} {value}");
                }

                Apply(r, g, changes, deletes);
            }
        });
        return task.Upid.ToString();
    }

    private static (SimGuest Guest, Dictionary<string, string> Changes, List<string> Deletes) CheckUpdate(PveRequest r)
    {
        var kind = ApiHelpers.KindOf(r);
        if (r.OptionalFlag("skiplock") && r.AuthId != "root@pam")
        {
            throw PveException.ParamError("skiplock", "Only root may use this option.");
        }

        var changes = r.Params.Where(p => !ControlParams.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        var deletes = r.Get("delete") is { } d ? Formats.SplitList(d).ToList() : [];
        var reverts = r.Get("revert") is { } rv ? Formats.SplitList(rv).ToList() : [];
        if (changes.Count == 0 && !r.Has("delete") && !r.Has("revert"))
        {
            throw PveException.Die("no options specified");
        }

        var g = ApiHelpers.Load(r);
        ApiHelpers.FlockConfig(r, g.Vmid, kind);
        if (!r.OptionalFlag("skiplock"))
        {
            ApiHelpers.CheckLock(g);
        }

        if (r.Get("digest") is { Length: > 0 } digest && digest != g.Digest)
        {
            throw PveException.Die(kind == GuestKind.Lxc
                ? "detected modified configuration - file changed by other user? Try again."
                : "checksum mismatch (file change by other user?)");
        }

        if (kind == GuestKind.Qemu)
        {
            foreach (var (key, value) in changes.Where(c => Drives.IsQemuDrive(c.Key)).OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                Drives.CheckImportSyntax(key, value);
            }
        }

        foreach (var opt in deletes.Concat(reverts).Concat(changes.Keys))
        {
            if (kind == GuestKind.Lxc)
            {
                CheckLxcOption(r, g, opt, changes.GetValueOrDefault(opt));
            }
            else
            {
                CheckQemuOption(r, g, opt, changes.GetValueOrDefault(opt));
            }
        }

        if (kind == GuestKind.Qemu)
        {
            foreach (var (key, value) in changes.Where(c => Drives.IsQemuDrive(c.Key)).OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                Drives.CheckStorageAccess(r, key, value);
            }
        }

        foreach (var opt in reverts)
        {
            if (r.Endpoint.FindProperty(opt) is null || ControlParams.Contains(opt))
            {
                throw PveException.ParamError("revert", $"unknown option '{opt}'");
            }

            if (changes.ContainsKey(opt))
            {
                throw PveException.ParamError("revert", $"you can't use '-{opt}' and '-revert {opt}' at the same time");
            }
        }

        foreach (var opt in deletes)
        {
            if (r.Endpoint.FindProperty(opt) is null || ControlParams.Contains(opt))
            {
                throw PveException.ParamError("delete", $"unknown option '{opt}'");
            }

            if (changes.ContainsKey(opt))
            {
                throw PveException.ParamError("delete", $"you can't use '-{opt}' and -delete {opt}' at the same time");
            }
        }

        return (g, changes, deletes);
    }

    private static void Apply(PveRequest r, SimGuest g, Dictionary<string, string> changes, List<string> deletes)
    {
        foreach (var opt in deletes)
        {
            if (g.Kind == GuestKind.Qemu && g.Config.TryGetValue(opt, out var old) && (Drives.IsQemuDrive(opt) || UnusedKey().IsMatch(opt)))
            {
                DeleteQemuVolume(r, g, opt, old);
            }
            else
            {
                g.Config.Remove(opt);
            }
        }

        foreach (var (key, value) in changes)
        {
            if (NetKey().IsMatch(key))
            {
                g.Config[key] = ApiHelpers.NormalizeNet(r.Sim.Schema, g.Kind, value, r.Sim.State.MacPrefix, newMac: false);
            }
            else if (g.Kind == GuestKind.Qemu && Drives.IsQemuDrive(key))
            {
                SetQemuDrive(r, g, key, value);
            }
            else if (g.Kind == GuestKind.Lxc && (key == "rootfs" || MpKey().IsMatch(key)) && Drives.IsNew(value))
            {
                g.Config[key] = Drives.Allocate(r.Sim.State, g, Drives.ParseNew(r, key, value, GuestKind.Lxc, "rootdir"), _ => { });
            }
            else
            {
                g.Config[key] = value;
            }
        }

        if (g.Kind == GuestKind.Qemu)
        {
            Drives.DropReattachedUnused(g);
        }
    }

    /// <summary>
    /// qm set of a drive (create_disks, then vmconfig_apply_pending of a stopped VM): a new disk is allocated or
    /// imported, a path records its size, a volume is taken as given; the drive it replaces goes to unusedN if the
    /// VM owns its volume and is dropped otherwise (a path, another guest's volume).
    /// </summary>
    private static void SetQemuDrive(PveRequest r, SimGuest g, string key, string value)
    {
        var old = g.Config.GetValueOrDefault(key);
        if (old is not null)
        {
            CheckDrivePermission(r, g, old);
        }

        CheckDrivePermission(r, g, value);
        g.Config[key] = Drives.IsNew(value)
            ? Drives.Allocate(r.Sim.State, g, Drives.ParseNew(r, key, value, GuestKind.Qemu, "images"), _ => { })
            : GuestDisk.Parse(value).Volume.StartsWith('/') ? Drives.SizePath(value) : value;
        if (old is not null)
        {
            Drives.RegisterUnused(r.Sim.State, g, old);
        }
    }

    /// <summary>
    /// delete=DRIVE detaches it (its owned volume becomes unusedN; with force it is freed), delete=unusedN frees the
    /// volume (try_deallocate_drive: Datastore.AllocateSpace if the VM owns it). Protection forbids both.
    /// </summary>
    private static void DeleteQemuVolume(PveRequest r, SimGuest g, string key, string old)
    {
        var unused = UnusedKey().IsMatch(key);
        if (g.Config.GetValueOrDefault("protection") == "1")
        {
            throw PveException.Die(unused ? $"can't remove unused disk '{old}' - protection mode enabled" : $"can't remove drive '{key}' - protection mode enabled");
        }

        if (unused)
        {
            r.Sim.State.Access.CheckVm(r.AuthId, g.Vmid, ["VM.Config.Disk"]);
        }
        else
        {
            CheckDrivePermission(r, g, old);
        }

        var drive = GuestDisk.Parse(old);
        var free = unused || r.OptionalFlag("force");
        if (free && !drive.IsCdrom && Volumes.Owner(drive.Volume) == g.Vmid)
        {
            r.Sim.State.Access.Check(r.AuthId, $"/storage/{drive.StorageId}", ["Datastore.AllocateSpace"]);
        }

        g.Config.Remove(key);
        if (!free)
        {
            Drives.RegisterUnused(r.Sim.State, g, old);
        }
    }

    /// <summary>$check_drive_perms: VM.Config.CDROM for a cdrom, VM.Config.Cloudinit and .CDROM for cloud-init, else VM.Config.Disk.</summary>
    private static void CheckDrivePermission(PveRequest r, SimGuest g, string line)
    {
        var drive = GuestDisk.Parse(line);
        string[] privileges = drive.Volume.EndsWith("cloudinit", StringComparison.Ordinal) || drive.Volume.Contains("-cloudinit.", StringComparison.Ordinal)
            ? ["VM.Config.Cloudinit", "VM.Config.CDROM"]
            : drive.IsCdrom ? ["VM.Config.CDROM"] : ["VM.Config.Disk"];
        r.Sim.State.Access.CheckVm(r.AuthId, g.Vmid, privileges);
    }

    /// <summary>check_ct_modify_config_perm (pve-container).</summary>
    internal static void CheckLxcOption(PveRequest r, SimGuest g, string opt, string? newValue)
    {
        if (r.AuthId == "root@pam")
        {
            return;
        }

        var access = r.Sim.State.Access;
        void Vm(string priv) => access.Check(r.AuthId, $"/vms/{g.Vmid}", [priv]);

        switch (opt)
        {
            case "cores" or "cpuunits" or "cpulimit":
                Vm("VM.Config.CPU");
                break;
            case var disk when disk == "rootfs" || MpKey().IsMatch(disk):
                Vm("VM.Config.Disk");
                if (newValue is not null && Drives.IsNew(newValue))
                {
                    access.Check(r.AuthId, $"/storage/{GuestDisk.Parse(newValue).StorageId}", ["Datastore.AllocateSpace"]);
                }

                break;
            case "memory" or "swap":
                Vm("VM.Config.Memory");
                break;
            case var net when NetKey().IsMatch(net):
                Vm("VM.Config.Network");
                if (g.Config.TryGetValue(opt, out var old))
                {
                    ApiHelpers.CheckBridgeAccess(r, GuestKind.Lxc, old);
                }

                if (newValue is not null)
                {
                    ApiHelpers.CheckBridgeAccess(r, GuestKind.Lxc, newValue);
                }

                break;
            case var dev when DevKey().IsMatch(dev):
                throw PveException.PermissionDenied("configuring device passthrough is only allowed for root@pam");
            case "nameserver" or "searchdomain" or "hostname":
                Vm("VM.Config.Network");
                break;
            case "features":
                if (g.Config.GetValueOrDefault("unprivileged") != "1")
                {
                    throw PveException.PermissionDenied("changing feature flags for privileged container is only allowed for root@pam");
                }

                var changed = FeatureNames(g.Config.GetValueOrDefault("features")).Union(FeatureNames(newValue)).ToHashSet();
                if (changed.Any(f => f != "nesting"))
                {
                    throw PveException.PermissionDenied("changing feature flags (except nesting) is only allowed for root@pam");
                }

                Vm("VM.Allocate");
                break;
            case "hookscript":
                throw PveException.PermissionDenied("changing the hookscript is only allowed for root@pam");
            default:
                Vm("VM.Config.Options");
                break;
        }
    }

    /// <summary>$check_vm_modify_config_perm (qemu-server), plus SDN.Use for bridges.</summary>
    internal static void CheckQemuOption(PveRequest r, SimGuest g, string opt, string? newValue)
    {
        if (r.AuthId == "root@pam")
        {
            return;
        }

        var access = r.Sim.State.Access;
        void Vm(params string[] privs) => access.CheckVm(r.AuthId, g.Vmid, privs);

        if (DiskKey().IsMatch(opt) || opt == "cdrom" || QemuPassthroughKey().IsMatch(opt))
        {
            return; // checks of their own: drives and unusedN in Drives/Apply, devices not emulated
        }

        if (opt == "tags" || QemuGeneral.Contains(opt))
        {
            Vm("VM.Config.Options");
            if (opt == "startup")
            {
                access.Check(r.AuthId, "/", ["Sys.Modify"]);
            }
        }
        else if (QemuCpu.Contains(opt) || NumaKey().IsMatch(opt))
        {
            Vm("VM.Config.CPU");
        }
        else if (QemuMemory.Contains(opt))
        {
            Vm("VM.Config.Memory");
        }
        else if (QemuHwType.Contains(opt))
        {
            Vm("VM.Config.HWType");
        }
        else if (opt == "freeze")
        {
            Vm("VM.PowerMgmt");
        }
        else if (QemuDisk.Contains(opt))
        {
            Vm("VM.Config.Disk");
        }
        else if (NetKey().IsMatch(opt))
        {
            Vm("VM.Config.Network");
            if (newValue is not null)
            {
                ApiHelpers.CheckBridgeAccess(r, GuestKind.Qemu, newValue);
            }
        }
        else if (QemuCloudinit.Contains(opt) || IpConfigKey().IsMatch(opt))
        {
            access.CheckVm(r.AuthId, g.Vmid, ["VM.Config.Cloudinit", "VM.Config.Network"], any: true);
        }
        else
        {
            throw PveException.Die($"only root can set '{opt}' config");
        }
    }

    /// <summary>LXC: synchronous checks, then a vztemplate task; the call itself returns null. QEMU returns the UPID.</summary>
    private static JsonNode? Template(PveRequest r)
    {
        SimGuest g;
        lock (r.Sim.State.Sync)
        {
            g = ApiHelpers.Load(r);
            ApiHelpers.FlockConfig(r, g.Vmid, g.Kind);
            ApiHelpers.CheckLock(g);
            if (g.IsTemplate)
            {
                throw PveException.Die("you can't convert a template to a template");
            }

            if (g.Running)
            {
                throw PveException.Die(g.Kind == GuestKind.Lxc
                    ? "you can't convert a CT to template if the CT is running"
                    : "you can't convert a VM to template if VM is running");
            }
        }

        var type = g.Kind == GuestKind.Lxc ? "vztemplate" : "qmtemplate";
        var task = r.Sim.Tasks.Start(r.Node, type, g.Vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, r.Sim.Timings.Template, async (t, ct) =>
        {
            await r.Sim.Clock.Delay(r.Sim.Timings.Template, ct);
            lock (r.Sim.State.Sync)
            {
                t.FailIfInjected();
                foreach (var (key, disk) in g.Disks.ToList())
                {
                    // template_create skips what has no 'template' feature: cdroms and file paths (not in Disks).
                    var baseVolume = Volumes.ToBase(disk.Volume, g.Vmid);
                    t.Log($"Renamed \"{disk.VolumeName}\" to \"{baseVolume[(baseVolume.IndexOf(':') + 1)..]}\"");
                    g.Config[key] = disk.Print(baseVolume);
                }

                g.Config["template"] = "1";
            }
        });
        return g.Kind == GuestKind.Lxc ? null : task.Upid.ToString();
    }

    private static JsonNode? Typed(JsonObject? returns, string key, string value)
    {
        var schema = returns?[key] as JsonObject;
        if (schema is null && IndexedKey().Match(key) is { Success: true } m)
        {
            schema = returns?[m.Groups[1].Value + "[n]"] as JsonObject;
        }

        return SchemaJson.String(schema ?? [], "type") switch
        {
            "integer" when ParameterValidator.IsInteger(value) => JsonValue.Create(long.Parse(value, CultureInfo.InvariantCulture)),
            "number" when ParameterValidator.IsNumber(value) => JsonValue.Create(double.Parse(value, CultureInfo.InvariantCulture)),
            "boolean" when value is "0" or "1" => JsonValue.Create(value == "1" ? 1 : 0),
            _ => JsonValue.Create(value),
        };
    }

    private static IEnumerable<string> FeatureNames(string? features) =>
        (features ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(f => f.Split('=')[0]);

    [GeneratedRegex(@"^net\d+$")]
    private static partial Regex NetKey();

    [GeneratedRegex(@"^mp\d+$")]
    private static partial Regex MpKey();

    [GeneratedRegex(@"^dev\d+$")]
    private static partial Regex DevKey();

    [GeneratedRegex(@"^numa\d+$")]
    private static partial Regex NumaKey();

    [GeneratedRegex(@"^ipconfig\d+$")]
    private static partial Regex IpConfigKey();

    [GeneratedRegex(@"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0|mp\d+)$")]
    private static partial Regex DiskKey();

    [GeneratedRegex(@"^(unused|serial|usb|hostpci|virtiofs)\d+$")]
    private static partial Regex QemuPassthroughKey();

    [GeneratedRegex(@"^([a-z][a-z_-]*?)(\d+)$")]
    private static partial Regex IndexedKey();

    [GeneratedRegex(@"^unused\d+$")]
    private static partial Regex UnusedKey();
}
