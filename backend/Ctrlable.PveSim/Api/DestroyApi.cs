using System.Globalization;
using System.Text.Json.Nodes;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>DELETE /nodes/{node}/lxc|qemu/{vmid}: protection, lock and running checks, then vzdestroy/qmdestroy.</summary>
internal static class DestroyApi
{
    public static void Map(PveRouter router) => router
        .Map("DELETE", "/nodes/{node}/lxc/{vmid}", Destroy)
        .Map("DELETE", "/nodes/{node}/qemu/{vmid}", Destroy);

    private static JsonNode Destroy(PveRequest r)
    {
        var sim = r.Sim;
        var kind = ApiHelpers.KindOf(r);
        var skiplock = r.OptionalFlag("skiplock"); // QEMU only
        if (skiplock && r.AuthId != "root@pam")
        {
            throw PveException.ParamError("skiplock", "Only root may use this option.");
        }

        var force = r.OptionalFlag("force"); // LXC only
        SimGuest guest;
        lock (sim.State.Sync)
        {
            guest = ApiHelpers.Load(r);
            EarlyChecks(guest, kind, force);
            ApiHelpers.FlockConfig(r, guest.Vmid, kind);
        }

        var type = kind == GuestKind.Lxc ? "vzdestroy" : "qmdestroy";
        var task = sim.Tasks.Start(r.Node, type, guest.Vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, sim.Timings.Destroy, async (t, ct) =>
        {
            await sim.Clock.Delay(sim.Timings.Destroy, ct);
            lock (sim.State.Sync)
            {
                if (sim.State.Guest(guest.Vmid) != guest)
                {
                    throw new TaskFailedException(PveException.NoConfig(r.Node, guest.TypeName, guest.Vmid).Message);
                }

                EarlyChecks(guest, kind, force);
                if (kind == GuestKind.Qemu && !skiplock)
                {
                    ApiHelpers.CheckLock(guest);
                }

                if (guest.IsTemplate && BaseVolumeInUse(sim, guest) is { } baseVolume)
                {
                    // qemu-server's destroy_vm checks first, naming the volume id (and says "cloned"); pve-container
                    // frees the volume, and pve-storage's vdisk_free refuses it, naming the volume without its storage.
                    throw new TaskFailedException(kind == GuestKind.Qemu
                        ? $"base volume '{baseVolume}' is still in use by linked cloned"
                        : $"base volume '{GuestDisk.Parse(baseVolume).VolumeName}' is still in use by linked clones");
                }

                t.FailIfInjected();
                if (guest.Running)
                {
                    t.Log($"forced to stop CT {guest.Vmid} before destroying!");
                    GuestRuntime.Stopped(sim, guest);
                }

                // destroy_vm frees the volumes it owns, drives and unusedN alike; a file path is not PVE's to free.
                foreach (var volume in guest.Disks.Select(d => d.Disk.Volume).Concat(guest.UnusedVolumes).Where(v => Volumes.Owner(v) == guest.Vmid).Distinct())
                {
                    t.Log($"  Logical volume \"{volume[(volume.IndexOf(':') + 1)..]}\" successfully removed.");
                }

                if (r.Flag("destroy-unreferenced-disks") == true)
                {
                    // destroy_vm / destroy_lxc_container: vdisk_list over every enabled storage with 'images' (VM) or
                    // 'rootdir' (CT) content, every volume named after the VMID freed, whoever made it; what the
                    // config held was freed just above.
                    var content = kind == GuestKind.Lxc ? "rootdir" : "images";
                    foreach (var storage in sim.State.Storages.Values.Where(s => s.AvailableOn(r.Node) && s.HasContent(content)))
                    {
                        foreach (var stray in storage.Files.Values.Where(f => f.Vmid == guest.Vmid && f.ContentType is "images" or "rootdir").ToList())
                        {
                            storage.Files.Remove(stray.VolId);
                            t.Log($"  Logical volume \"{stray.VolId[(stray.VolId.IndexOf(':') + 1)..]}\" successfully removed.");
                        }
                    }
                }

                if (r.Flag("purge") == true)
                {
                    t.Log($"purging {guest.Word} {guest.Vmid} from related configurations..");
                }

                sim.State.Guests.Remove(guest.Vmid);
                sim.State.Access.RemoveVmAccess(guest.Vmid);
                sim.IpAllocator.Release(guest.Vmid);
                sim.HomeAssistant.Destroyed(guest.Vmid);
                sim.Apps.Stopped(guest.Vmid);
            }
        });

        return task.Upid.ToString();
    }

    /// <summary>
    /// The template's first base volume that a volume on its storage names as its origin, whoever's guest holds it
    /// (Proxmox lists the storage, not the guests a caller may see); null when none does.
    /// </summary>
    private static string? BaseVolumeInUse(Hosting.SimContext sim, SimGuest template)
    {
        var others = sim.State.Guests.Values
            .Where(g => g.Vmid != template.Vmid)
            .SelectMany(g => g.Disks.Select(d => d.Disk.Volume).Concat(g.UnusedVolumes))
            .ToList();
        return template.Disks.Select(d => d.Disk.Volume).Concat(template.UnusedVolumes)
            .FirstOrDefault(b => others.Any(v => Volumes.IsLinkedCloneOf(v, b)));
    }

    private static void EarlyChecks(SimGuest guest, GuestKind kind, bool force)
    {
        if (guest.Config.GetValueOrDefault("protection") == "1")
        {
            throw PveException.Die($"can't remove {guest.Word} {guest.Vmid} - protection mode enabled");
        }

        if (kind == GuestKind.Lxc)
        {
            ApiHelpers.CheckLock(guest);
            if (guest.Running && !force)
            {
                throw PveException.Die($"unable to destroy CT {guest.Vmid} - container is running");
            }
        }
        else if (guest.Running)
        {
            throw PveException.Die($"VM {guest.Vmid} is running - destroy failed");
        }
    }
}
