using System.Text.Json;
using Ctrlable.Provisioner.Tests.Build;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Releases;

/// <summary>
/// The templates of the removal tests on the emulator: seeded on ZFS in the templates' pool with a build's marker (run
/// id <see cref="RunId"/>), and what the tests read back — a guest's MAC on net0, whether a VMID holds a guest, one
/// template of <c>GET /api/releases/{r}/templates</c>.
/// </summary>
internal static class TemplateSim
{
    public const string RunId = "0123456789abcdef";

    /// <summary>One node, short task times.</summary>
    public static Task<PveSimulator> StartAsync(int randomSeed) => PveSimulator.StartAsync(new PveSimOptions
    {
        Nodes = ["pve1"],
        TimingScale = 0.02,
        RandomSeed = randomSeed,
    });

    /// <summary>The host's storages: templates and their linked clones on ZFS, whose clones name their base volume.</summary>
    public static readonly IReadOnlyList<StorageSeed> Storages =
    [
        new StorageSeed("local", "dir", "iso,vztmpl,backup,snippets,import"),
        new StorageSeed("local-lvm", "lvmthin", "rootdir,images"),
        new StorageSeed("local-zfs", "zfspool", "rootdir,images"),
    ];

    /// <summary>The description marker a build writes, with <see cref="RunId"/>.</summary>
    public static string Marker(string release, string template) =>
        $"ctrlable-build release={release} template={template} commit={ActivationManifest.Commit} build=3 run={RunId} app_version=-";

    /// <summary>A template on ZFS in the templates' pool carrying <paramref name="release"/>'s marker for <paramref name="name"/>.</summary>
    public static TemplateSeed TemplateOf(int vmid, string name, SimGuestKind kind, string release) =>
        new(vmid, name, kind, kind == SimGuestKind.Qemu ? 32 : 8) { Pool = "ctrlable-templates", Storage = "local-zfs", Description = Marker(release, name) };

    public static string MacOf(PveSimulator sim, int vmid)
    {
        lock (sim.State.Sync)
        {
            var net0 = sim.State.Guests[vmid].Config["net0"];
            return System.Text.RegularExpressions.Regex.Match(net0, "([0-9A-F]{2}(:[0-9A-F]{2}){5})", System.Text.RegularExpressions.RegexOptions.IgnoreCase).Value.ToUpperInvariant();
        }
    }

    public static bool Exists(PveSimulator sim, int vmid)
    {
        lock (sim.State.Sync)
        {
            return sim.State.Guests.ContainsKey(vmid);
        }
    }

    public static JsonElement Template(JsonElement view, string name) =>
        view.GetProperty("templates").EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);
}
