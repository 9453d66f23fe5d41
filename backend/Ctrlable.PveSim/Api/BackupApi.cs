using System.Globalization;
using System.Text.Json.Nodes;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// Backups: <c>POST /nodes/{node}/vzdump</c> (a vzdump task that writes one archive per guest onto a storage with
/// content <c>backup</c>, each guest locked <c>backup</c> meanwhile, notes from <c>notes-template</c>, and
/// <c>prune-backups</c> keep-last / keep-all honoured), and <c>DELETE /nodes/{node}/storage/{storage}/content/{volume}</c>.
/// The archives are listed by <see cref="TemplateStoreApi"/>'s content listing and restored by <see cref="CreateApi"/>.
/// Permissions as the schema's descriptions say (pve-manager API2/VZDump.pm, pve-storage check_volume_access): VM.Backup
/// on each guest, Datastore.AllocateSpace on the storage, Datastore.Allocate there for an explicit prune-backups.
/// </summary>
internal static class BackupApi
{
    public static void Map(PveRouter router) => router
        .Map("POST", "/nodes/{node}/vzdump", Vzdump)
        .Map("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}", DeleteVolume);

    private static JsonNode Vzdump(PveRequest r)
    {
        var sim = r.Sim;
        var state = sim.State;
        var storageId = r.Get("storage") ?? "local";
        var vmids = (r.Get("vmid") ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries)
            .Select(v => int.Parse(v, CultureInfo.InvariantCulture)).Distinct().ToList();
        if (vmids.Count == 0)
        {
            // all=1 and pool= are not emulated: the product names its guests.
            throw PveException.ParamError("vmid", "property is missing and it is not optional");
        }

        var keepLast = ParsePrune(r.Get("prune-backups"));
        var notesTemplate = r.Get("notes-template");
        SimStorage storage;
        lock (state.Sync)
        {
            foreach (var vmid in vmids)
            {
                state.Access.Check(r.AuthId, $"/vms/{vmid}", ["VM.Backup"]);
            }

            storage = state.Storages.GetValueOrDefault(storageId) is { } s && s.AvailableOn(r.Node)
                ? s
                : throw PveException.Die($"storage '{storageId}' does not exist");
            state.Access.Check(r.AuthId, $"/storage/{storageId}", ["Datastore.AllocateSpace"]);
            if (r.Has("prune-backups"))
            {
                state.Access.Check(r.AuthId, $"/storage/{storageId}", ["Datastore.Allocate"]);
            }

            if (!storage.HasContent("backup"))
            {
                throw PveException.Die($"storage '{storageId}' does not support vzdump backups");
            }
        }

        var id = vmids.Count == 1 ? vmids[0].ToString(CultureInfo.InvariantCulture) : "";
        var duration = sim.Timings.BackupPerGuest * vmids.Count;
        var task = sim.Tasks.Start(r.Node, "vzdump", id, r.AuthId, duration, async (t, ct) =>
        {
            t.Log($"INFO: starting new backup job: vzdump {string.Join(' ', vmids)} --storage {storageId} --mode {r.Get("mode") ?? "snapshot"}");
            var errors = 0;
            foreach (var vmid in vmids)
            {
                SimGuest? guest;
                lock (state.Sync)
                {
                    guest = state.Guest(vmid);
                    if (guest is null || guest.Node != r.Node)
                    {
                        t.Log($"ERROR: Backup of VM {vmid} failed - unable to find configuration file for VM {vmid} on node '{r.Node}'");
                        errors++;
                        continue;
                    }

                    if (guest.Lock is { } held)
                    {
                        t.Log($"ERROR: Backup of VM {vmid} failed - {guest.Word} is locked ({held})");
                        errors++;
                        continue;
                    }

                    guest.Config["lock"] = "backup";
                }

                t.Log($"INFO: Starting Backup of VM {vmid} ({guest.TypeName})");
                await sim.Clock.Delay(sim.Timings.BackupPerGuest, ct);
                lock (state.Sync)
                {
                    guest.Config.Remove("lock");
                    if (t.InjectedFailure is { } injected)
                    {
                        t.Log($"ERROR: Backup of VM {vmid} failed - {injected}");
                        errors++;
                        continue;
                    }

                    var volume = Archive(sim, storage, guest, notesTemplate);
                    storage.Files[volume.VolId] = volume;
                    t.Log($"INFO: creating vzdump archive '/var/lib/vz/dump/{volume.VolId[(volume.VolId.IndexOf('/') + 1)..]}'");
                    t.Log($"INFO: Finished Backup of VM {vmid} (00:00:05)");
                    if (keepLast is { } keep)
                    {
                        Prune(storage, vmid, keep, t);
                    }
                }
            }

            if (errors > 0)
            {
                throw new TaskFailedException("job errors");
            }

            t.Log("INFO: Backup job finished successfully");
        });
        return task.Upid.ToString();
    }

    /// <summary>
    /// DELETE a volume: Datastore.Allocate on the storage, or for a backup Datastore.AllocateSpace there and VM.Backup on
    /// its guest (the schema's description). An imgdel task.
    /// </summary>
    private static JsonNode DeleteVolume(PveRequest r)
    {
        var state = r.Sim.State;
        var storageId = r.Get("storage")!;
        var volid = r.Get("volume")!;
        if (!volid.Contains(':', StringComparison.Ordinal))
        {
            volid = $"{storageId}:{volid}";
        }

        lock (state.Sync)
        {
            var storage = state.Storages.GetValueOrDefault(storageId) ?? throw PveException.Die($"storage '{storageId}' does not exist");
            var file = storage.Files.GetValueOrDefault(volid);
            if (file is { ContentType: "backup", Vmid: { } owner } && !state.Access.Check(r.AuthId, $"/storage/{storageId}", ["Datastore.Allocate"], noError: true))
            {
                state.Access.Check(r.AuthId, $"/storage/{storageId}", ["Datastore.AllocateSpace"]);
                state.Access.Check(r.AuthId, $"/vms/{owner}", ["VM.Backup"]);
            }
            else
            {
                state.Access.Check(r.AuthId, $"/storage/{storageId}", ["Datastore.Allocate"]);
            }

            if (file is null)
            {
                throw PveException.Die($"volume '{volid}' does not exist");
            }
        }

        // pve-storage forks imgdel without an id (a volume id holds the UPID's separator).
        var task = r.Sim.Tasks.Start(r.Node, "imgdel", "", r.AuthId, TimeSpan.Zero, (t, _) =>
        {
            lock (state.Sync)
            {
                state.Storages[storageId].Files.Remove(volid);
            }

            t.Log($"Removed volume '{volid}'");
            return Task.CompletedTask;
        });
        return task.Upid.ToString();
    }

    /// <summary>pve-storage check_volume_access for a backup archive: Datastore.Allocate, or AllocateSpace + VM.Backup on its guest.</summary>
    public static bool CanAccessBackup(SimState state, string authId, string storageId, StoredVolume file, bool noError)
    {
        if (authId == "root@pam" || state.Access.Check(authId, $"/storage/{storageId}", ["Datastore.Allocate"], noError: true))
        {
            return true;
        }

        if (file.Vmid is not { } owner)
        {
            return state.Access.Check(authId, $"/storage/{storageId}", ["Datastore.Allocate"], noError: noError);
        }

        return state.Access.Check(authId, $"/storage/{storageId}", ["Datastore.AllocateSpace"], noError: noError)
            && state.Access.Check(authId, $"/vms/{owner}", ["VM.Backup"], noError: noError);
    }

    /// <summary>The archive of one guest as vzdump names it: vzdump-{lxc|qemu}-VMID-YYYY_MM_DD-hh_mm_ss.{tar|vma}.zst.</summary>
    private static StoredVolume Archive(SimContext sim, SimStorage storage, SimGuest guest, string? notesTemplate)
    {
        var at = sim.Clock.Now;
        var format = guest.Kind == GuestKind.Lxc ? "tar.zst" : "vma.zst";
        string volid;
        do
        {
            volid = $"{storage.Id}:backup/vzdump-{guest.TypeName}-{guest.Vmid}-{at.UtcDateTime:yyyy_MM_dd-HH_mm_ss}.{(guest.Kind == GuestKind.Lxc ? "tar" : "vma")}.zst";
            at = at.AddSeconds(1); // two backups of a guest within a second: the later one gets the next second's name
        }
        while (storage.Files.ContainsKey(volid));

        var notes = notesTemplate?
            .Replace("{{guestname}}", guest.Name, StringComparison.Ordinal)
            .Replace("{{vmid}}", guest.Vmid.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{node}}", guest.Node, StringComparison.Ordinal)
            .Replace("{{cluster}}", sim.State.ClusterName, StringComparison.Ordinal);
        var config = new SortedDictionary<string, string>(guest.Config.Where(c => c.Key is not "lock").ToDictionary(c => c.Key, c => c.Value), StringComparer.Ordinal);
        var size = Math.Max(1L << 20, guest.Disks.Sum(d => d.Disk.SizeBytes) / 8);
        return new StoredVolume(volid, "backup", format, size, sim.Clock.UnixNow, guest.Vmid, notes, new BackupArchive(guest.TypeName, config, guest.HomeAssistantCoreOnDisk));
    }

    /// <summary>keep-last=N: the guest's newest N archives on the storage stay, older ones go (keep-all=1: all stay).</summary>
    private static void Prune(SimStorage storage, int vmid, int keep, SimTask t)
    {
        var archives = storage.Files.Values.Where(f => f.ContentType == "backup" && f.Vmid == vmid).OrderByDescending(f => f.CreatedUnix).ThenByDescending(f => f.VolId, StringComparer.Ordinal).ToList();
        foreach (var old in archives.Skip(keep))
        {
            storage.Files.Remove(old.VolId);
            t.Log($"INFO: prune older backups with retention: keep-last={keep}");
            t.Log($"INFO: removing backup '{old.VolId}'");
        }
    }

    /// <summary>prune-backups: keep-last=N (N ≥ 1) or keep-all=1; other options are not emulated.</summary>
    private static int? ParsePrune(string? value)
    {
        if (value is null or "keep-all=1")
        {
            return null;
        }

        var parts = value.Split(',').Select(p => p.Split('=', 2)).ToList();
        if (parts.Count == 1 && parts[0] is ["keep-last", var n] && int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var keep) && keep >= 1)
        {
            return keep;
        }

        throw new PveException(501, $"PveSim emulates prune-backups keep-last=N and keep-all=1 only (got '{value}')");
    }
}
