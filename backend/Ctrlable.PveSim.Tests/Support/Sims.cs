using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;

namespace Ctrlable.PveSim.Tests.Support;

/// <summary>Emulators for tests: fast timings, a few templates, an admin token.</summary>
internal static class Sims
{
    public const int QemuTemplate = 9000;
    public const int LxcTemplate = 9001;
    public const int LxcTemplate2 = 9002;

    public static readonly PveVersion[] Versions = [PveVersion.V8_2, PveVersion.V9_1];

    public static IEnumerable<object[]> BothVersions => Versions.Select(v => new object[] { v });

    public static async Task<(PveSimulator Sim, ApiClient Admin)> Start(
        PveVersion version = PveVersion.V9_1,
        string[]? nodes = null,
        double scale = 0.01,
        SimTimings? timings = null,
        IGuestBootBehaviour? boot = null,
        IGuestIpAllocator? ips = null,
        string? snapshot = null,
        string? homeAssistantDisks = null,
        TimeProvider? time = null,
        string templateStorage = "local-lvm")
    {
        var sim = await PveSimulator.StartAsync(new PveSimOptions
        {
            Version = version,
            Nodes = nodes ?? ["pve1"],
            TimingScale = scale,
            TimeProvider = time ?? TimeProvider.System,
            Timings = timings ?? new SimTimings(),
            BootBehaviour = boot ?? new NoFirstBootBehaviour(),
            IpAllocator = ips,
            SnapshotPath = snapshot,
            HomeAssistantDisks = homeAssistantDisks,
            RandomSeed = 42,
            Seed = new SeedSpec
            {
                Users = [new UserSeed("root@pam", [new TokenSeed("admin", Privsep: false)])],
                // The default storages plus one of each type whose linked clones name their base volume.
                Storages = templateStorage == "local-lvm" ? null :
                [
                    new StorageSeed("local", "dir", "iso,vztmpl,backup,snippets,import,images"),
                    new StorageSeed("local-lvm", "lvmthin", "rootdir,images"),
                    new StorageSeed("local-zfs", "zfspool", "rootdir,images"),
                    new StorageSeed("ceph", "rbd", "rootdir,images", Shared: true),
                ],
                Templates =
                [
                    new TemplateSeed(QemuTemplate, "haos", GuestKind.Qemu, DiskGiB: 32, FirstBoot: true) { Storage = templateStorage },
                    new TemplateSeed(LxcTemplate, "zwavejs", GuestKind.Lxc, DiskGiB: 8, FirstBoot: true) { Storage = templateStorage },
                    new TemplateSeed(LxcTemplate2, "zigbee2mqtt", GuestKind.Lxc, DiskGiB: 8),
                ],
            },
        });
        return (sim, Client(sim, AdminToken(sim)));
    }

    /// <summary>
    /// Tasks that finish at once (clone, start, stop, shutdown, reboot, template, config), so that with a fake
    /// <see cref="TimeProvider"/> only what a test advances the clock for (a guest's boot, say) waits on it.
    /// </summary>
    public static SimTimings InstantTasks { get; } = new()
    {
        LinkedCloneMin = TimeSpan.Zero,
        LinkedCloneMax = TimeSpan.Zero,
        FullCloneBase = TimeSpan.Zero,
        FullClonePerGiB = TimeSpan.Zero,
        Start = TimeSpan.Zero,
        Stop = TimeSpan.Zero,
        Shutdown = TimeSpan.Zero,
        Reboot = TimeSpan.Zero,
        Destroy = TimeSpan.Zero,
        Template = TimeSpan.Zero,
        ConfigTask = TimeSpan.Zero,
    };

    public static ApiTokenCredentials AdminToken(PveSimulator sim)
    {
        lock (sim.State.Sync)
        {
            return new ApiTokenCredentials("root@pam!admin", sim.State.Access.Users["root@pam"].Tokens["admin"].Secret);
        }
    }

    public static ApiClient Client(PveSimulator sim, ApiTokenCredentials? token = null, string? node = null) =>
        new(sim.CreateClient(token, node));
}
