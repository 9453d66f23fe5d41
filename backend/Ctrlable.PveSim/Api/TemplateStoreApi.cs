using System.Text.Json.Nodes;
using Ctrlable.PveSim.Cluster;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// Appliance templates (what pveam uses): GET /nodes/{node}/aplinfo lists the downloadable templates,
/// POST downloads one onto a storage (an apldownload task), and GET .../storage/{storage}/content lists a
/// storage's files (templates, and vzdump's backups with their guest and notes). Guest disks are listed from the guest configs.
/// </summary>
internal static class TemplateStoreApi
{
    /// <summary>The system section of the appliance index the emulator offers (name, version, size in bytes).</summary>
    public static readonly IReadOnlyList<(string Template, string Os, string Version, long Size)> Available =
    [
        ("debian-12-standard_12.12-1_amd64.tar.zst", "debian-12", "12.12-1", 127_000_000),
        ("debian-13-standard_13.1-2_amd64.tar.zst", "debian-13", "13.1-2", 134_000_000),
        ("ubuntu-24.04-standard_24.04-2_amd64.tar.zst", "ubuntu-24.04", "24.04-2", 141_000_000),
        ("alpine-3.22-default_20250617_amd64.tar.xz", "alpine-3.22", "3.22-0", 3_100_000),
    ];

    public static void Map(PveRouter router) => router
        .Map("GET", "/nodes/{node}/aplinfo", List)
        .Map("POST", "/nodes/{node}/aplinfo", Download)
        .Map("GET", "/nodes/{node}/storage/{storage}/content", Content);

    private static JsonNode List(PveRequest r) => ApiHelpers.Array(Available.Select(a => (JsonNode)new JsonObject
    {
        ["template"] = a.Template,
        ["package"] = a.Template.Split('_')[0],
        ["os"] = a.Os,
        ["version"] = a.Version,
        ["type"] = "lxc",
        ["section"] = "system",
        ["headline"] = $"{a.Os} system",
        ["source"] = $"http://download.proxmox.com/images/system/{a.Template}",
        ["location"] = $"system/{a.Template}",
        ["infopage"] = "https://pve.proxmox.com/wiki/Linux_Container",
        ["maintainer"] = "Proxmox Support Team <support@proxmox.com>",
        ["architecture"] = "amd64",
        ["sha512sum"] = new string('0', 128),
        ["description"] = $"{a.Os} system image",
    }));

    private static JsonNode Download(PveRequest r)
    {
        var sim = r.Sim;
        var storageId = r.Get("storage")!;
        var name = r.Get("template")!;
        SimStorage storage;
        lock (sim.State.Sync)
        {
            storage = sim.State.Storages.GetValueOrDefault(storageId) ?? throw PveException.Die($"storage '{storageId}' does not exist");
            if (!storage.HasContent("vztmpl"))
            {
                throw PveException.Die($"storage '{storageId}' does not support templates");
            }

            if (!Available.Any(a => a.Template == name))
            {
                throw PveException.Die($"no such template - unable to find template '{name}'");
            }
        }

        var available = Available.Single(a => a.Template == name);
        var task = sim.Tasks.Start(r.Node, "download", name, r.AuthId, sim.Timings.TemplateDownload, async (t, ct) =>
        {
            t.Log($"starting template download from: http://download.proxmox.com/images/system/{name}");
            t.Log($"target file: /var/lib/vz/template/cache/{name}");
            await sim.Clock.Delay(sim.Timings.TemplateDownload, ct);
            lock (sim.State.Sync)
            {
                t.FailIfInjected();
                var volid = $"{storageId}:vztmpl/{name}";
                storage.Files[volid] = new StoredVolume(volid, "vztmpl", name.EndsWith(".tar.xz", StringComparison.Ordinal) ? "txz" : "tzst", available.Size, sim.Clock.UnixNow);
                t.Log($"download of 'http://download.proxmox.com/images/system/{name}' to '/var/lib/vz/template/cache/{name}' finished");
            }
        });
        return task.Upid.ToString();
    }

    private static JsonNode Content(PveRequest r)
    {
        var state = r.Sim.State;
        lock (state.Sync)
        {
            var storageId = r.Get("storage")!;
            var storage = state.Storages.GetValueOrDefault(storageId);
            if (storage is null || !storage.AvailableOn(r.Node))
            {
                throw PveException.Die($"storage '{storageId}' does not exist");
            }

            var wanted = r.Get("content");
            var vmid = r.Int("vmid");
            var result = new JsonArray();
            // Files; with vmid only that guest's (its backups). A backup is listed to whoever may access it
            // (check_volume_access: Datastore.Allocate, or Datastore.AllocateSpace and VM.Backup on its guest).
            foreach (var file in storage.Files.Values.Where(f => (wanted is null || f.ContentType == wanted) && (vmid is null || f.Vmid == vmid)))
            {
                if (file.ContentType == "backup" && !BackupApi.CanAccessBackup(state, r.AuthId, storageId, file, noError: true))
                {
                    continue;
                }

                var entry = new JsonObject
                {
                    ["volid"] = file.VolId,
                    ["content"] = file.ContentType,
                    ["format"] = file.Format,
                    ["size"] = file.SizeBytes,
                    ["ctime"] = file.CreatedUnix,
                };
                if (file.Vmid is { } owner)
                {
                    entry["vmid"] = owner;
                }

                if (file.Notes is { } notes)
                {
                    // Only the first line, as Proxmox lists it.
                    entry["notes"] = notes.Split('\n')[0];
                }

                result.Add(entry);
            }

            // Guest volumes, as the storage plugin's list_images finds them.
            if (wanted is null or "images" or "rootdir")
            {
                foreach (var guest in state.Guests.Values.Where(g => (vmid is null || g.Vmid == vmid) && (storage.Shared || g.Node == r.Node)))
                {
                    foreach (var (_, disk) in guest.Disks.Where(d => d.Disk.StorageId == storageId))
                    {
                        var content = guest.Kind == Guests.GuestKind.Lxc ? "rootdir" : "images";
                        if (wanted is not null && wanted != content)
                        {
                            continue;
                        }

                        if (!state.Access.Check(r.AuthId, $"/vms/{guest.Vmid}", ["VM.Audit"], noError: true))
                        {
                            continue;
                        }

                        result.Add(new JsonObject
                        {
                            ["volid"] = disk.Volume,
                            ["content"] = content,
                            ["format"] = disk.VolumeName.StartsWith("subvol", StringComparison.Ordinal) || disk.VolumeName.StartsWith("basevol", StringComparison.Ordinal) ? "subvol" : "raw",
                            ["size"] = disk.SizeBytes,
                            ["vmid"] = guest.Vmid,
                            ["ctime"] = guest.CreatedAt.ToUnixTimeSeconds(),
                        });
                    }
                }
            }

            return result;
        }
    }
}
