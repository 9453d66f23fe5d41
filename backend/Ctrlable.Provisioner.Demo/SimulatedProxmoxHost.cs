using System.Security.Cryptography;
using Ctrlable.HaSim;
using Ctrlable.HaSim.Backups;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.State;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Demo;

/// <summary>
/// Demo mode: with no Proxmox configured, the demo build of the orchestrator (<see cref="DemoProgram"/>) runs the Proxmox emulator in-process (one node,
/// thin storage, the least-privilege token) and talks to it over HTTPS like to a real node. The newest valid
/// release's templates are seeded and recorded as built, so a newcomer sees a working host at once; a newer release
/// added to the releases directory later is recorded as built at the next start (so an upgrade can be tried). The
/// emulator's state is kept in the data directory, so guests survive a restart. Guests cloned from the templates
/// run the real first-boot script (<see cref="FirstBootScriptBehaviour"/>) against this orchestrator over HTTPS:
/// when no https:// listen URL is configured, demo mode adds one on loopback (<see cref="AddGuestListener"/>).
/// </summary>
public sealed class SimulatedProxmoxHost(
    IConfiguration configuration,
    IOptions<StorageOptions> storage,
    IOptions<ProxmoxOptions> proxmox,
    ReleaseCatalog catalog,
    ReleaseRepository releases,
    ReleaseSecrets releaseSecrets,
    BaseBackupStore baseBackups,
    IServiceProvider services,
    TimeProvider time,
    ILogger<SimulatedProxmoxHost> logger) : IProxmoxStandIn, IAsyncDisposable
{
    public const string NodeName = "pve";
    public const string TemplatePool = "ctrlable-templates";

    /// <summary>The orchestrator's list of Home Assistant ports (8123's stand-in first); the simulated guests listen on them.</summary>
    public const string HomeAssistantPortsKey = "HomeAssistant:Ports";

    /// <summary>Type → port of the simulated guests' apps, which the dashboard's app health probes (Dashboard:AppPorts).</summary>
    public const string AppPortsKey = "Dashboard:AppPorts";

    /// <summary>The admin the demo's generated base backup brings back (its password is random per data directory).</summary>
    public const string DemoBaseAdmin = "ctrlable";

    private PveSimulator? _sim;
    private ProxmoxConnection? _connection;

    public ProxmoxConnection Connection => _connection ?? throw new InvalidOperationException("The simulated Proxmox host has not been started.");

    public PveSimulator Simulator => _sim ?? throw new InvalidOperationException("The simulated Proxmox host has not been started.");

    /// <summary>The simulated guests' first boot (and their broker-following timer's run, which the emulator does not schedule).</summary>
    public FirstBootScriptBehaviour FirstBoot => _firstBoot ?? throw new InvalidOperationException("The simulated Proxmox host has not been started.");

    private FirstBootScriptBehaviour? _firstBoot;

    // Where the demo's templates are: the first node, on local-lvm (one node) or the shared storage (a cluster).
    private string _templateNode = NodeName;
    private string _templateStorage = "local-lvm";

    /// <summary>The product's stand-in: adds the guests' HTTPS listener when needed, starts the emulator, returns its connection.</summary>
    public async Task<ProxmoxConnection> StartAsync(WebApplication app, CancellationToken ct)
    {
        AddGuestListener(app);
        await StartAsync(ct);
        return Connection;
    }

    public async Task StartAsync(CancellationToken ct)
    {
        var dataDirectory = Path.GetFullPath(storage.Value.DataDirectory);
        var tokenSecret = await LoadOrCreateTokenSecretAsync(Path.Combine(dataDirectory, "simulated-proxmox-token"), ct);
        var release = catalog.LoadAll().Where(r => r.IsValid).OrderByDescending(r => r.Name, StringComparer.Ordinal).FirstOrDefault();
        var templates = release?.Manifest?.Templates ?? [];

        var access = LeastPrivilege.Spec(PveVersion.V9_1, pool: proxmox.Value.Pool, templatePool: TemplatePool, storage: "local-lvm", tokenSecret: tokenSecret);
        // Simulator:Nodes (CTRLABLE_SIMULATOR__NODES=pve,pve2) emulates a cluster: the first node holds the templates, on a
        // shared Ceph RBD storage every node has, so a project may be placed on any node (SPEC §7c "Placement").
        var nodes = NodesOf(configuration);
        _templateNode = nodes[0];
        if (nodes.Count > 1)
        {
            _templateStorage = SharedStorage;
            var tokenId0 = access.Users[0].UserId + "!" + access.Users[0].Tokens![0].Name;
            access = access with
            {
                Storages =
                [
                    new StorageSeed("local", "dir", "iso,vztmpl,backup,snippets,import"),
                    new StorageSeed("local-lvm", "lvmthin", "rootdir,images"),
                    new StorageSeed(SharedStorage, "rbd", "rootdir,images", Shared: true),
                ],
                Acls = [.. access.Acls, .. new[] { access.Users[0].UserId, tokenId0 }.Select(s => new AclSeed($"/storage/{SharedStorage}", s, LeastPrivilege.RoleId))],
            };
        }

        _sim = await PveSimulator.StartAsync(new PveSimOptions
        {
            Version = PveVersion.V9_1,
            Nodes = nodes,
            // Simulator:TimingScale shortens every emulated duration (tests); 1 = realistic.
            TimingScale = configuration.GetValue("Simulator:TimingScale", 1.0),
            BootBehaviour = _firstBoot = new FirstBootScriptBehaviour(
                FirstBootScriptBehaviour.SandboxDirectoryOf(services),
                SimulatedGuestImage.BundledScriptDirectory,
                FirstBootScriptBehaviour.TemplatesOf(services),
                services.GetRequiredService<ILogger<FirstBootScriptBehaviour>>()),
            SnapshotPath = Path.Combine(dataDirectory, "simulated-proxmox.json"),
            // Each simulated Home Assistant's /config, so a restarted demo finds them as it left them.
            HomeAssistantDisks = Path.Combine(dataDirectory, "simulated-homeassistant"),
            Seed = access with
            {
                Templates = [.. templates.Select(TemplateSeedOf)],
            },
            HomeAssistant = DemoHomeAssistant(),
            // The guests' apps listen where the dashboard's app health probes them.
            AppPorts = configuration.GetSection(AppPortsKey).Get<Dictionary<string, int>>() ?? [],
        }, ct);

        var tokenId = access.Users[0].UserId + "!" + access.Users[0].Tokens![0].Name;
        _connection = new ProxmoxConnection(_sim.BaseAddress, tokenId, tokenSecret, _sim.CertificateFingerprint, simulated: true);
        logger.LogWarning("No Proxmox host configured: running against the SIMULATED Proxmox host at {Url}", _sim.BaseAddress);

        var active = await releases.GetActiveNameAsync(ct);
        if (release?.Manifest is { } manifest && (active is null || string.CompareOrdinal(manifest.Release, active) > 0))
        {
            // The demo host's templates exist from the start, as if this release had been built here. A newer release
            // found at a later start (one added to the releases directory) is "built" the same way, without the slow
            // build: its templates are seeded where their VMIDs are free (a template already there, e.g. the previous
            // release's at the same VMID, stands in for it) and it becomes the active release, so the instances of the
            // older one are offered the upgrade (SPEC §7g).
            if (active is not null)
            {
                SeedMissingTemplates(manifest);
                logger.LogWarning("Demo mode: release {Release} (newer than the active {Active}) recorded as built, without a build", manifest.Release, active);
            }

            var now = time.GetUtcNow();
            await releases.ActivateAsync(manifest.Release, manifest.CommunityScriptsRef, manifest.CommunityScriptsCommit,
                [.. manifest.Templates.Select(t => new TemplateRow(0, manifest.Release, t.Name, t.Kind == TemplateKind.Lxc ? "lxc" : "vm", t.Vmid, _templateNode,
                    manifest.CommunityScriptsRef, manifest.CommunityScriptsCommit, t.AppVersion, now))],
                now, ct);
        }

        if (release?.Manifest is { } built)
        {
            // The build issues a release's first-boot secret; the demo release is never built.
            await releaseSecrets.GetOrIssueAsync(built.Release, ct);
            await EnsureDemoBaseBackupAsync(built, ct);
        }
    }

    /// <summary>The shared storage of a simulated cluster (Simulator:Nodes with more than one node).</summary>
    public const string SharedStorage = "ceph";

    /// <summary>Simulator:Nodes, comma-separated; the first holds the templates. Default: the one node "pve".</summary>
    public static IReadOnlyList<string> NodesOf(IConfiguration configuration)
    {
        var nodes = (configuration["Simulator:Nodes"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return nodes.Length == 0 ? [NodeName] : [.. nodes.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>A release's template as the emulator seeds it: as the build leaves it on a Proxmox host.</summary>
    private TemplateSeed TemplateSeedOf(TemplateSpec t) =>
        new(t.Vmid, t.Name, t.Kind == TemplateKind.Lxc ? SimGuestKind.Lxc : SimGuestKind.Qemu, t.Resources.DiskGb, FirstBoot: t.Kind == TemplateKind.Lxc)
        {
            Cores = t.Resources.Cpu,
            MemoryMiB = t.Resources.RamMiB,
            Pool = TemplatePool,
            Unprivileged = t.Unprivileged,
            Node = _templateNode,
            Storage = _templateStorage,
            // As the build tags the ctrlable-pro template: its clones run the Home Assistant emulator.
            Tags = t.Builder == ManifestRules.HaosBuilder ? ["ctrlable", HomeAssistantMarker.Tag] : [],
            // The build boots that template once, so its clones start Home Assistant Core without the internet.
            HomeAssistantCoreOnDisk = t.Builder == ManifestRules.HaosBuilder,
        };

    /// <summary>Adds the release's templates whose VMIDs the restored emulator does not have yet.</summary>
    private void SeedMissingTemplates(Manifest.ReleaseManifest manifest)
    {
        foreach (var template in manifest.Templates)
        {
            bool taken;
            lock (Simulator.State.Sync)
            {
                taken = Simulator.State.Guest(template.Vmid) is not null;
            }

            if (!taken)
            {
                Simulator.AddGuest(TemplateSeedOf(template));
            }
        }
    }

    /// <summary>Configuration key of the guests' HTTPS listener's port (see <see cref="AddGuestListener"/>).</summary>
    public const string GuestListenerPortKey = "Simulator:GuestListenerPort";

    /// <summary>
    /// Demo mode's loopback ports, as configuration entries for what is not configured yet: the guests' HTTPS listener
    /// (<see cref="GuestListenerPortKey"/>), the simulated Home Assistant guests' two (8123's and 80's stand-ins,
    /// <see cref="HomeAssistantPortsKey"/>) and one per other type's app (stand-ins for 8091, 8080, 9443, 5000, 80;
    /// <see cref="AppPortsKey"/>). All are held open together, so no two are the same. With a data directory they are
    /// kept in <c>demo-ports.json</c> there and taken again at the next start while free: a guest keeps the
    /// orchestrator's URL its first boot was given (its upgrade and broker timers call it), as a real host's guests do.
    /// </summary>
    public static Dictionary<string, string?> FreeDemoPorts(IConfiguration configuration, string? dataDirectory = null)
    {
        var keys = new List<string>();
        if (string.IsNullOrEmpty(configuration[GuestListenerPortKey]))
        {
            keys.Add(GuestListenerPortKey);
        }

        if (!configuration.GetSection(HomeAssistantPortsKey).GetChildren().Any())
        {
            keys.AddRange([$"{HomeAssistantPortsKey}:0", $"{HomeAssistantPortsKey}:1"]);
        }

        if (!configuration.GetSection(AppPortsKey).GetChildren().Any())
        {
            keys.AddRange(Dashboard.AppEndpoints.Defaults.Keys.Where(t => t != TemplateTypes.CtrlablePro).Select(t => $"{AppPortsKey}:{t}"));
        }

        var file = dataDirectory is null ? null : Path.Combine(dataDirectory, "demo-ports.json");
        var kept = file is not null && File.Exists(file) ? KeptPorts(file) : [];
        var listeners = keys.Select(key => Listen(kept.GetValueOrDefault(key))).ToList();
        try
        {
            var ports = keys.Zip(listeners, (key, listener) => (Key: key, ((System.Net.IPEndPoint)listener.LocalEndpoint).Port)).ToList();
            if (file is not null && keys.Count > 0)
            {
                foreach (var (key, port) in ports)
                {
                    kept[key] = port;
                }

                Directory.CreateDirectory(dataDirectory!);
                File.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(kept));
            }

            return ports.ToDictionary(p => p.Key, p => (string?)p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            listeners.ForEach(l => l.Dispose());
        }

        // A file that does not read (edited by hand, cut short) only loses the kept ports: free ones are chosen and kept.
        static Dictionary<string, int> KeptPorts(string file)
        {
            try
            {
                return System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(file)) ?? [];
            }
            catch (System.Text.Json.JsonException)
            {
                return [];
            }
        }

        // The kept port while nothing else holds it, else a free one.
        static System.Net.Sockets.TcpListener Listen(int kept)
        {
            if (kept > 0)
            {
                var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, kept);
                try
                {
                    listener.Start();
                    return listener;
                }
                catch (System.Net.Sockets.SocketException)
                {
                    listener.Dispose();
                }
            }

            var free = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            free.Start();
            return free;
        }
    }

    /// <summary>
    /// The simulated Home Assistant: on the ports of <see cref="HomeAssistantPortsKey"/>, with phases long enough to see
    /// in the demo (all × Simulator:TimingScale).
    /// </summary>
    private HaSimOptions DemoHomeAssistant()
    {
        var ports = configuration.GetSection(HomeAssistantPortsKey).Get<int[]>() ?? [];
        return new HaSimOptions
        {
            LegacyPort = ports.ElementAtOrDefault(0),
            HttpPort = ports.ElementAtOrDefault(1),
            LandingDuration = TimeSpan.FromSeconds(15),
            RestoreStopDelay = TimeSpan.FromSeconds(1),
            RestoreDownTime = TimeSpan.FromSeconds(5),
            LandingAfterRestore = TimeSpan.FromSeconds(3),
            RestartDownTime = TimeSpan.FromSeconds(3),
            BackupLoadDelay = TimeSpan.FromSeconds(2),
        };
    }

    /// <summary>
    /// A real release ships its base backup (made on a set-up instance); the demo release has none, so demo mode
    /// generates one with a random admin password and stores it as a release's base backup is stored.
    /// </summary>
    private async Task EnsureDemoBaseBackupAsync(Manifest.ReleaseManifest manifest, CancellationToken ct)
    {
        var fileName = manifest.Templates.FirstOrDefault(t => t.BaseBackup is not null)?.BaseBackup;
        if (fileName is null || await StoredBaseBackupAsync(manifest.Release, ct))
        {
            return;
        }

        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        var tar = HaBaseBackup.Create(new HaBaseBackupSpec(DemoBaseAdmin, password) { Name = $"Ctrlable base {manifest.Release} (demo)" });
        using var content = new MemoryStream(tar);
        await baseBackups.StoreAsync(manifest.Release, fileName, content, new HaBaseCredentials(DemoBaseAdmin, password), expectedSha256: null, ct);
        logger.LogInformation("Demo mode: generated the Home Assistant base backup {File} of release {Release}", fileName, manifest.Release);
    }

    private async Task<bool> StoredBaseBackupAsync(string release, CancellationToken ct)
    {
        try
        {
            return await baseBackups.GetAsync(release, ct) is not null;
        }
        catch (BaseBackupException e)
        {
            logger.LogWarning("Demo mode: replacing the base backup of release {Release}: {Reason}", release, e.Message);
            return false;
        }
    }

    /// <summary>
    /// Simulated guests reach the orchestrator over HTTPS like real ones: when no https:// URL is configured, listen
    /// on loopback at <see cref="GuestListenerPortKey"/> (a free port when unset) too, besides the configured URLs. No-op for servers without addresses (test server).
    /// </summary>
    public static void AddGuestListener(WebApplication app)
    {
        if (app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>() is not { } addresses)
        {
            return;
        }

        var configured = Tls.ListenUrls.From(app.Configuration);
        if (configured.Any(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            || app.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
        {
            return;
        }

        // Addresses set here replace the configured ones, so the configured ones are added again.
        foreach (var url in configured.Count > 0 ? configured : ["http://localhost:5000"])
        {
            addresses.Addresses.Add(url);
        }

        addresses.Addresses.Add($"https://127.0.0.1:{app.Configuration.GetValue(GuestListenerPortKey, 0)}");
    }

    /// <summary>Once: the container holds this host under two registrations (itself and <see cref="IProxmoxStandIn"/>) and disposes both.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _sim, null) is { } sim)
        {
            await sim.DisposeAsync();
        }
    }

    private static async Task<string> LoadOrCreateTokenSecretAsync(string path, CancellationToken ct)
    {
        if (File.Exists(path))
        {
            return (await File.ReadAllTextAsync(path, ct)).Trim();
        }

        var secret = new Guid(RandomNumberGenerator.GetBytes(16)).ToString("D");
        await File.WriteAllTextAsync(path, secret, ct);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return secret;
    }
}
