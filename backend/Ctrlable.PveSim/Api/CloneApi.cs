using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// POST .../clone for containers (pve-container clone_vm) and VMs (qemu-server clone_vm), with their
/// synchronous checks, locks and the vzclone/qmclone task. The UPID id is the SOURCE vmid.
/// </summary>
internal static partial class CloneApi
{
    public static void Map(PveRouter router) => router
        .Map("POST", "/nodes/{node}/lxc/{vmid}/clone", r => Clone(r, GuestKind.Lxc))
        .Map("POST", "/nodes/{node}/qemu/{vmid}/clone", r => Clone(r, GuestKind.Qemu));

    private sealed record DiskPlan(string Key, GuestDisk Disk, SimStorage Target, bool Full);

    private static JsonNode Clone(PveRequest r, GuestKind kind)
    {
        var sim = r.Sim;
        var state = sim.State;
        var newid = r.Int("newid")!.Value;
        var pool = r.Get("pool");
        var storageId = r.Get("storage");
        var target = r.Get("target");
        if (target is not null && target == r.Node)
        {
            target = null;
        }

        SimGuest source;
        SimGuest clone;
        List<DiskPlan> disks;
        bool linked;
        lock (state.Sync)
        {
            if (kind == GuestKind.Lxc)
            {
                (source, clone, disks) = PrepareLxc(r, newid, pool, storageId, target);
            }
            else
            {
                (source, clone, disks) = PrepareQemu(r, newid, pool, storageId, target);
            }

            linked = disks.Any(d => !d.Full);
            clone.CreatedAt = sim.Clock.Now;
            state.Guests[newid] = clone;
        }

        var size = disks.Sum(d => d.Disk.SizeBytes);
        var duration = linked
            ? sim.Between(sim.Timings.LinkedCloneMin, sim.Timings.LinkedCloneMax)
            : sim.Timings.FullCloneBase + (sim.Timings.FullClonePerGiB * (size / (double)(1L << 30)));

        var type = kind == GuestKind.Lxc ? "vzclone" : "qmclone";
        var task = sim.Tasks.Start(
            r.Node,
            type,
            source.Vmid.ToString(CultureInfo.InvariantCulture),
            r.AuthId,
            duration,
            async (t, ct) =>
            {
                if (kind == GuestKind.Lxc)
                {
                    t.Log($"creating a clone of container {source.Vmid} with ID {newid}");
                }

                foreach (var d in disks)
                {
                    t.Log(kind == GuestKind.Qemu
                        ? $"create {(d.Full ? "full" : "linked")} clone of drive {d.Key} ({d.Disk.Volume})"
                        : d.Full
                            ? $"create full clone of mountpoint {d.Key} ({d.Disk.Volume})"
                            : $"create linked clone of mount point {d.Key} ({d.Disk.Volume})");
                }

                await sim.Clock.Delay(duration, ct);
                lock (state.Sync)
                {
                    try
                    {
                        t.FailIfInjected();
                    }
                    catch (TaskFailedException e)
                    {
                        throw new TaskFailedException($"clone failed: {e.Message}");
                    }

                    var index = 0;
                    foreach (var d in disks)
                    {
                        var volume = d.Full
                            ? Volumes.New(d.Target, kind, newid, index)
                            : Volumes.Linked(d.Target, kind, newid, index, d.Disk);
                        index++;
                        clone.Config[d.Key] = d.Disk.Print(volume);
                        if (d.Full && kind == GuestKind.Qemu)
                        {
                            t.Log($"transferred {Schema.Formats.FormatSize(d.Disk.SizeBytes)} of {Schema.Formats.FormatSize(d.Disk.SizeBytes)} (100.00%)");
                        }
                    }

                    clone.LinkedTo = linked ? source.LinkedTo ?? source.Vmid : null;
                    if (pool is not null && state.Access.Pools.TryGetValue(pool, out var p))
                    {
                        p.Vms.Add(newid);
                    }

                    if (kind == GuestKind.Lxc && source.Lock == "disk")
                    {
                        source.Config.Remove("lock");
                    }

                    clone.Config.Remove("lock");
                    if (target is not null)
                    {
                        clone.Node = target;
                    }
                }
            },
            onFailure: _ =>
            {
                lock (state.Sync)
                {
                    if (kind == GuestKind.Lxc && source.Lock == "disk")
                    {
                        source.Config.Remove("lock");
                    }

                    if (state.Guest(newid) == clone)
                    {
                        state.Guests.Remove(newid);
                    }
                }
            });

        return task.Upid.ToString();
    }

    private static (SimGuest Source, SimGuest Clone, List<DiskPlan> Disks) PrepareLxc(PveRequest r, int newid, string? pool, string? storageId, string? target)
    {
        var state = r.Sim.State;
        CheckPool(r, pool);
        CheckTargetAndStorage(r, storageId, target, kind: GuestKind.Lxc);

        // set_lock(vmid, 'disk'): the source must exist and be unlocked.
        var source = ApiHelpers.Load(r);
        ApiHelpers.FlockConfig(r, source.Vmid, GuestKind.Lxc);
        ApiHelpers.CheckLock(source);
        source.Config["lock"] = "disk";
        try
        {
            ApiHelpers.FlockConfig(r, newid, GuestKind.Lxc);
            if (state.Guest(newid) is { } existing)
            {
                throw PveException.Die($"{existing.Word} {newid} already exists on node '{existing.Node}'");
            }

            var full = r.Flag("full") ?? !source.IsTemplate;
            if (storageId is not null && !full)
            {
                throw PveException.Die("parameter 'storage' not allowed for linked clones");
            }

            if (r.Get("snapname") is { } snapname)
            {
                throw PveException.Die($"snapshot '{snapname}' does not exist");
            }

            var clone = new SimGuest(newid, GuestKind.Lxc, r.Node, r.Sim.Clock.Now) { ClonedFrom = source.Vmid };
            var disks = new List<DiskPlan>();
            var shared = true;
            foreach (var (key, value) in source.Config)
            {
                if (UnusedKey().IsMatch(key) || key is "lock" or "template")
                {
                    continue;
                }

                if (key == "rootfs" || MpKey().IsMatch(key))
                {
                    var disk = GuestDisk.Parse(value);
                    if (!disk.Volume.Contains(':'))
                    {
                        throw PveException.Die($"unable to clone mountpoint '{key}' (type bind)");
                    }

                    var targetStorage = state.Storages.GetValueOrDefault(storageId ?? disk.StorageId)
                        ?? throw PveException.Die($"storage '{storageId ?? disk.StorageId}' does not exist");
                    shared &= state.Storages.GetValueOrDefault(disk.StorageId)?.Shared ?? false;
                    state.Access.Check(r.AuthId, $"/storage/{targetStorage.Id}", ["Datastore.AllocateSpace"]);
                    if (full)
                    {
                        if (source.Running)
                        {
                            throw PveException.Die("Full clone of a running container is only possible from a snapshot");
                        }
                    }
                    else if (!SimStorage.LinkedCloneTypes.Contains(targetStorage.Type) || !Volumes.IsBase(disk))
                    {
                        throw PveException.Die($"Linked clone feature for '{disk.Volume}' is not available");
                    }

                    disks.Add(new DiskPlan(key, disk, targetStorage, full));
                    clone.Config[key] = value;
                }
                else if (NetKey().IsMatch(key))
                {
                    clone.Config[key] = ApiHelpers.NormalizeNet(r.Sim.Schema, GuestKind.Lxc, value, state.MacPrefix, newMac: true);
                    ApiHelpers.CheckBridgeAccess(r, GuestKind.Lxc, clone.Config[key]);
                }
                else
                {
                    clone.Config[key] = value;
                }
            }

            if (target is not null && !shared)
            {
                throw PveException.Die($"can't clone CT to node '{target}' (CT uses local storage)");
            }

            clone.Config["lock"] = "create";
            if (r.Get("hostname") is { Length: > 0 } hostname)
            {
                clone.Config["hostname"] = hostname;
            }

            if (r.Get("description") is { Length: > 0 } description)
            {
                clone.Config["description"] = description;
            }

            return (source, clone, disks);
        }
        catch (PveException)
        {
            source.Config.Remove("lock");
            throw;
        }
    }

    private static (SimGuest Source, SimGuest Clone, List<DiskPlan> Disks) PrepareQemu(PveRequest r, int newid, string? pool, string? storageId, string? target)
    {
        var state = r.Sim.State;
        CheckPool(r, pool);
        CheckTargetAndStorage(r, storageId, target, kind: GuestKind.Qemu);

        var source = ApiHelpers.Load(r);
        ApiHelpers.FlockConfig(r, source.Vmid, GuestKind.Qemu);
        ApiHelpers.CheckLock(source);
        if (r.Get("snapname") is { } snapname)
        {
            throw PveException.Die($"snapshot '{snapname}' does not exist");
        }

        var full = r.Flag("full") ?? !source.IsTemplate;
        if (storageId is not null && !full)
        {
            throw PveException.Die("parameter 'storage' not allowed for linked clones");
        }

        if (r.Get("format") is not null && !full)
        {
            throw PveException.Die("parameter 'format' not allowed for linked clones");
        }

        // $check_storage_access_clone (a file path is no volume ID: parse_volume_id dies), then bridges.
        var shared = true;
        foreach (var (_, disk) in source.Drives)
        {
            if (!disk.IsManaged)
            {
                throw PveException.Die($"unable to parse volume ID '{disk.Volume}'");
            }

            shared &= state.Storages.GetValueOrDefault(disk.StorageId)?.Shared ?? false;
            state.Access.Check(r.AuthId, $"/storage/{storageId ?? disk.StorageId}", ["Datastore.AllocateSpace"]);
        }

        foreach (var (_, value) in source.Nets)
        {
            ApiHelpers.CheckBridgeAccess(r, GuestKind.Qemu, value);
        }

        if (target is not null && !shared)
        {
            throw PveException.Die($"can't clone VM to node '{target}' (VM uses local storage)");
        }

        ApiHelpers.FlockConfig(r, newid, GuestKind.Qemu);
        if (state.Guest(newid) is not null)
        {
            throw PveException.Die($"unable to create VM {newid}: config file already exists");
        }

        var clone = new SimGuest(newid, GuestKind.Qemu, r.Node, r.Sim.Clock.Now) { ClonedFrom = source.Vmid, HomeAssistantCoreOnDisk = r.Sim.HomeAssistant.CoreOnDisk(source) };
        var disks = new List<DiskPlan>();
        foreach (var (key, value) in source.Config)
        {
            if (UnusedKey().IsMatch(key) || key is "lock" or "template")
            {
                continue;
            }

            if (NetKey().IsMatch(key))
            {
                clone.Config[key] = ApiHelpers.NormalizeNet(r.Sim.Schema, GuestKind.Qemu, value, state.MacPrefix, newMac: true);
                continue;
            }

            var disk = source.Disks.FirstOrDefault(d => d.Key == key).Disk;
            if (disk is not null)
            {
                var targetStorage = state.Storages.GetValueOrDefault(storageId ?? disk.StorageId)
                    ?? throw PveException.Die($"storage '{storageId ?? disk.StorageId}' does not exist");
                var sourceStorage = state.Storages.GetValueOrDefault(disk.StorageId);
                var canLink = sourceStorage is not null && Volumes.IsBase(disk)
                    && (SimStorage.LinkedCloneTypes.Contains(sourceStorage.Type) || (sourceStorage.IsFileBased && disk.Volume.EndsWith(".qcow2", StringComparison.Ordinal)));
                if (!full && !canLink)
                {
                    throw PveException.Die($"Linked clone feature is not supported for '{disk.Volume}' ({key})");
                }

                disks.Add(new DiskPlan(key, disk, targetStorage, full));
            }

            clone.Config[key] = value;
        }

        clone.Config["lock"] = "clone";
        clone.Config["name"] = r.Get("name") ?? "Copy-of-VM-" + source.Config.GetValueOrDefault("name", source.Vmid.ToString(CultureInfo.InvariantCulture));
        if (r.Get("description") is { Length: > 0 } description)
        {
            clone.Config["description"] = description;
        }

        clone.Config["smbios1"] = $"uuid={Guid.NewGuid()}";
        if (clone.Config.ContainsKey("vmgenid"))
        {
            clone.Config["vmgenid"] = Guid.NewGuid().ToString();
        }

        return (source, clone, disks);
    }

    /// <summary>Unknown pool → 403 "Permission check failed (pool 'x' does not exist)" (check_pool_exist).</summary>
    private static void CheckPool(PveRequest r, string? pool)
    {
        if (pool is not null && !r.Sim.State.Access.Pools.ContainsKey(pool))
        {
            throw PveException.PermissionDenied($"pool '{pool}' does not exist");
        }
    }

    private static void CheckTargetAndStorage(PveRequest r, string? storageId, string? target, GuestKind kind)
    {
        var state = r.Sim.State;
        if (target is not null && !state.Nodes.ContainsKey(target))
        {
            throw PveException.Die($"no such cluster node '{target}'");
        }

        if (storageId is null)
        {
            return;
        }

        var storage = state.Storages.GetValueOrDefault(storageId) ?? throw PveException.Die($"storage '{storageId}' does not exist");
        if (!storage.AvailableOn(r.Node))
        {
            throw PveException.Die($"storage '{storageId}' is not available on node '{r.Node}'");
        }

        if (kind == GuestKind.Qemu && !storage.HasContent("images"))
        {
            throw PveException.ParamError("storage", $"storage '{storageId}' does not support vm images");
        }

        if (target is not null)
        {
            if (!storage.AvailableOn(target))
            {
                throw PveException.Die($"storage '{storageId}' is not available on node '{target}'");
            }

            if (!storage.Shared)
            {
                throw PveException.Die($"can't clone to non-shared storage '{storageId}'");
            }
        }
    }

    [GeneratedRegex(@"^unused\d+$")]
    private static partial Regex UnusedKey();

    [GeneratedRegex(@"^mp\d+$")]
    private static partial Regex MpKey();

    [GeneratedRegex(@"^net\d+$")]
    private static partial Regex NetKey();
}
