using System.Globalization;
using System.Text.Json.Nodes;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// Snapshots of containers and VMs as pve-container (src/PVE/API2/LXC/Snapshot.pm at 94f5585) and qemu-server
/// (src/PVE/API2/Qemu.pm at e6352be) serve them, with pve-guest-common's AbstractConfig (at 4a8f6cb) doing the work inside
/// the task: the reserved names refused at once; "already used", a lock, a template, a missing snapshot as task errors; the
/// locks <c>snapshot</c>, <c>rollback</c> and <c>snapshot-delete</c> for the task's duration; a rollback stops a running
/// guest first and starts it again only with <c>start=1</c>. Permissions come from the schema (VM.Snapshot; rollback also
/// VM.Snapshot.Rollback; listing VM.Audit).
/// </summary>
internal static class SnapshotApi
{
    public static void Map(PveRouter router)
    {
        foreach (var kind in new[] { "lxc", "qemu" })
        {
            router
                .Map("GET", $"/nodes/{{node}}/{kind}/{{vmid}}/snapshot", List)
                .Map("POST", $"/nodes/{{node}}/{kind}/{{vmid}}/snapshot", Create)
                .Map("POST", $"/nodes/{{node}}/{kind}/{{vmid}}/snapshot/{{snapname}}/rollback", Rollback)
                .Map("DELETE", $"/nodes/{{node}}/{kind}/{{vmid}}/snapshot/{{snapname}}", Delete);
        }
    }

    private static JsonNode List(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var guest = ApiHelpers.Load(r);
            var list = new JsonArray();
            foreach (var snapshot in guest.Snapshots)
            {
                var item = new JsonObject { ["name"] = snapshot.Name, ["snaptime"] = snapshot.Snaptime, ["description"] = snapshot.Description ?? "" };
                if (guest.Kind == GuestKind.Qemu)
                {
                    item["vmstate"] = 0;
                }

                if (snapshot.Parent is { } parent)
                {
                    item["parent"] = parent;
                }

                if (snapshot.Snapstate is { } state)
                {
                    item["snapstate"] = state;
                }

                list.Add(item);
            }

            var current = new JsonObject { ["name"] = "current", ["digest"] = guest.Digest, ["running"] = guest.Running ? 1 : 0, ["description"] = "You are here!" };
            if (guest.Config.GetValueOrDefault("parent") is { } last)
            {
                current["parent"] = last;
            }

            list.Add(current);
            return list;
        }
    }

    private static JsonNode Create(PveRequest r)
    {
        var sim = r.Sim;
        var kind = ApiHelpers.KindOf(r);
        var name = r.Get("snapname")!;
        if (name == "current")
        {
            throw PveException.Die("unable to use snapshot name 'current' (reserved name)");
        }

        if (kind == GuestKind.Lxc ? name == "vzdump" : name.Equals("pending", StringComparison.OrdinalIgnoreCase))
        {
            throw PveException.Die($"unable to use snapshot name '{(kind == GuestKind.Lxc ? "vzdump" : "pending")}' (reserved name)");
        }

        lock (sim.State.Sync)
        {
            ApiHelpers.Load(r);
            ApiHelpers.FlockConfig(r, r.Vmid, kind);
        }

        var vmid = r.Vmid;
        var description = r.Get("description");
        var type = kind == GuestKind.Lxc ? "vzsnapshot" : "qmsnapshot";
        SimSnapshot? made = null;
        var task = sim.Tasks.Start(r.Node, type, vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, sim.Timings.Snapshot, async (t, ct) =>
        {
            SimGuest guest;
            lock (sim.State.Sync)
            {
                guest = Worker(r, kind, vmid);
                if (guest.IsTemplate)
                {
                    throw new TaskFailedException("you can't take a snapshot if it's a template");
                }

                ApiHelpers.CheckLock(guest);
                if (guest.Snapshots.Any(s => s.Name == name))
                {
                    throw new TaskFailedException($"snapshot name '{name}' already used");
                }

                if (!SupportsSnapshots(r, guest))
                {
                    throw new TaskFailedException("snapshot feature is not available");
                }

                t.FailIfInjected();
                guest.Config["lock"] = "snapshot";
                made = new SimSnapshot(name, description, sim.Clock.Now.ToUnixTimeSeconds(), guest.Config.GetValueOrDefault("parent"), CopyConfig(guest))
                {
                    Snapstate = "prepare",
                    FirstBootDone = guest.FirstBootDone,
                    HomeAssistantCoreOnDisk = sim.HomeAssistant.CoreOnDisk(guest),
                    HomeAssistantImage = sim.HomeAssistant.TakeImage(vmid),
                };
                guest.Snapshots.Add(made);
            }

            await sim.Clock.Delay(sim.Timings.Snapshot, ct);
            (sim.Options.BootBehaviour as IGuestDiskSnapshots)?.SnapshotTaken(vmid, name);
            lock (sim.State.Sync)
            {
                made.Snapstate = null;
                guest.Config.Remove("lock");
                guest.Config["parent"] = name;
            }
        }, _ =>
        {
            // snapshot_create removes a half-made snapshot again (snapshot_delete with force) and the lock with it.
            lock (sim.State.Sync)
            {
                if (made is not null && sim.State.Guest(vmid) is { } guest)
                {
                    guest.Snapshots.Remove(made);
                    if (guest.Lock == "snapshot")
                    {
                        guest.Config.Remove("lock");
                    }
                }
            }
        });
        return task.Upid.ToString();
    }

    private static JsonNode Rollback(PveRequest r)
    {
        var sim = r.Sim;
        var kind = ApiHelpers.KindOf(r);
        var name = r.Get("snapname")!;
        var start = r.Flag("start") == true;
        lock (sim.State.Sync)
        {
            ApiHelpers.Load(r);
        }

        var vmid = r.Vmid;
        var type = kind == GuestKind.Lxc ? "vzrollback" : "qmrollback";
        var task = sim.Tasks.Start(r.Node, type, vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, sim.Timings.Rollback, async (t, ct) =>
        {
            SimGuest guest;
            SimSnapshot snapshot;
            lock (sim.State.Sync)
            {
                guest = Worker(r, kind, vmid);
                if (guest.IsTemplate)
                {
                    throw new TaskFailedException("you can't rollback if vm is a template");
                }

                snapshot = guest.Snapshots.FirstOrDefault(s => s.Name == name) ?? throw new TaskFailedException($"snapshot '{name}' does not exist");
                if (snapshot.Snapstate is { } state)
                {
                    throw new TaskFailedException($"unable to rollback to incomplete snapshot (snapstate = {state})");
                }

                ApiHelpers.CheckLock(guest);
                t.FailIfInjected();
                if (guest.Running)
                {
                    // __snapshot_rollback_vm_stop: the guest is stopped first.
                    GuestRuntime.Stopped(sim, guest);
                }

                guest.Config["lock"] = "rollback";
            }

            await sim.Clock.Delay(sim.Timings.Rollback, ct);
            (sim.Options.BootBehaviour as IGuestDiskSnapshots)?.RolledBack(vmid, name);
            await sim.HomeAssistant.RestoreImageAsync(vmid, snapshot.HomeAssistantImage);
            lock (sim.State.Sync)
            {
                // __snapshot_apply_config: the snapshot's config replaces the current one; the snapshots stay.
                guest.Config.Clear();
                foreach (var (key, value) in snapshot.Config)
                {
                    guest.Config[key] = value;
                }

                guest.Config["parent"] = name;
                guest.FirstBootDone = snapshot.FirstBootDone;
                guest.HomeAssistantCoreOnDisk = snapshot.HomeAssistantCoreOnDisk;
                if (start)
                {
                    GuestRuntime.Started(sim, guest);
                }
            }
        }, _ =>
        {
            lock (sim.State.Sync)
            {
                if (sim.State.Guest(vmid) is { Lock: "rollback" } guest)
                {
                    guest.Config.Remove("lock");
                }
            }
        });
        return task.Upid.ToString();
    }

    private static JsonNode Delete(PveRequest r)
    {
        var sim = r.Sim;
        var kind = ApiHelpers.KindOf(r);
        var name = r.Get("snapname")!;
        lock (sim.State.Sync)
        {
            ApiHelpers.Load(r);
        }

        var vmid = r.Vmid;
        var type = kind == GuestKind.Lxc ? "vzdelsnapshot" : "qmdelsnapshot";
        var task = sim.Tasks.Start(r.Node, type, vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, sim.Timings.DeleteSnapshot, async (t, ct) =>
        {
            SimGuest guest;
            SimSnapshot snapshot;
            lock (sim.State.Sync)
            {
                guest = Worker(r, kind, vmid);
                snapshot = guest.Snapshots.FirstOrDefault(s => s.Name == name) ?? throw new TaskFailedException($"snapshot '{name}' does not exist");
                if (guest.IsTemplate)
                {
                    throw new TaskFailedException("you can't delete a snapshot if vm is a template");
                }

                ApiHelpers.CheckLock(guest);
                t.FailIfInjected();
                guest.Config["lock"] = "snapshot-delete";
            }

            await sim.Clock.Delay(sim.Timings.DeleteSnapshot, ct);
            (sim.Options.BootBehaviour as IGuestDiskSnapshots)?.SnapshotDeleted(vmid, name);
            lock (sim.State.Sync)
            {
                guest.Snapshots.Remove(snapshot);
                foreach (var child in guest.Snapshots.Where(s => s.Parent == name))
                {
                    child.Parent = snapshot.Parent;
                }

                if (guest.Config.GetValueOrDefault("parent") == name)
                {
                    if (snapshot.Parent is { } parent)
                    {
                        guest.Config["parent"] = parent;
                    }
                    else
                    {
                        guest.Config.Remove("parent");
                    }
                }

                guest.Config.Remove("lock");
            }
        }, _ =>
        {
            lock (sim.State.Sync)
            {
                if (sim.State.Guest(vmid) is { Lock: "snapshot-delete" } guest)
                {
                    guest.Config.Remove("lock");
                }
            }
        });
        return task.Upid.ToString();
    }

    /// <summary>load_config inside the worker: the guest may be gone by the time the task runs.</summary>
    private static SimGuest Worker(PveRequest r, GuestKind kind, int vmid) =>
        r.Sim.State.Guest(vmid) is { } guest && guest.Kind == kind && guest.Node == r.Node
            ? guest
            : throw new TaskFailedException(PveException.NoConfig(r.Node, kind == GuestKind.Lxc ? "lxc" : "qemu", vmid).Message);

    /// <summary>__snapshot_copy_config: everything but the lock, the parent and the snapshot state.</summary>
    private static Dictionary<string, string> CopyConfig(SimGuest guest) =>
        guest.Config.Where(c => c.Key is not ("lock" or "parent" or "snapstate")).ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal);

    /// <summary>has_feature('snapshot'): every volume on a storage that snapshots (thin LVM, ZFS, Ceph, Btrfs; qcow2 files).</summary>
    private static bool SupportsSnapshots(PveRequest r, SimGuest guest) =>
        guest.Disks.All(d => r.Sim.State.Storages.GetValueOrDefault(d.Disk.StorageId) is not { } storage
            || storage.Type is "lvmthin" or "zfspool" or "rbd" or "btrfs"
            || (guest.Kind == GuestKind.Qemu && d.Disk.VolumeName.EndsWith(".qcow2", StringComparison.Ordinal)));
}
