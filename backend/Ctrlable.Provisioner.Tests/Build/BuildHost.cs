using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using GuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// Everything a real build needs, on this machine: the Proxmox emulator (the orchestrator's Proxmox, and what
/// the pct/qm/pveam/pvesh stand-ins act on as root@pam), a fixture "upstream" git repository tagged
/// <see cref="Ref"/>, the real host/ctrlable-build behind a real sshd with the forced command, and the
/// orchestrator itself on HTTPS (Kestrel) with a certificate the wrapper pins. The curl stand-in on the
/// wrapper's PATH logs every URL and refuses every real upstream URL.
/// </summary>
internal sealed partial class BuildHost : IAsyncDisposable
{
    public const string Ref = "2026-05-30";
    public const string Release = "2026.07";
    public const string Node = "pve1";
    public const string HaosVersion = "15.1";

    private BuildHost(string directory, string release, PveSimulator sim, SshServer ssh, ProvisionerApp app, GitHubApiFixture gitHub, Uri orchestratorUrl, X509Certificate2 certificate, string upstreamCommit, string haosSha256)
    {
        Directory = directory;
        ReleaseName = release;
        GitHub = gitHub;
        Sim = sim;
        Ssh = ssh;
        App = app;
        OrchestratorUrl = orchestratorUrl;
        Certificate = certificate;
        UpstreamCommit = upstreamCommit;
        HaosSha256 = haosSha256;
    }

    public string Directory { get; }

    /// <summary>The release this host builds (<see cref="Release"/> unless started with another).</summary>
    public string ReleaseName { get; }

    /// <summary>The stand-in for GitHub's release API the wrapper reads HAOS image digests from.</summary>
    public GitHubApiFixture GitHub { get; }

    public PveSimulator Sim { get; }
    public SshServer Ssh { get; }
    public ProvisionerApp App { get; }
    public Uri OrchestratorUrl { get; }
    public X509Certificate2 Certificate { get; }
    public string UpstreamCommit { get; }
    public string HaosSha256 { get; }
    public string ReleasesDirectory => Path.Combine(Directory, "releases");
    public string FetchLog => Path.Combine(Directory, "fetch.log");
    public string BuildConf => Path.Combine(Directory, "ctrlable-build.conf");
    public string LockFile => Path.Combine(Directory, "ctrlable-build.lock");
    public string HaosCache => Path.Combine(Directory, "haos-cache");

    /// <summary>The stand-in root directory of container <paramref name="vmid"/>.</summary>
    public string CtRoot(int vmid) => Path.Combine(Directory, "ct", vmid.ToString(System.Globalization.CultureInfo.InvariantCulture), "rootfs");

    public static string Wrapper => Path.Combine(RepoPaths.Root, "host", "ctrlable-build");

    /// <param name="manifest">The release manifest (YAML) for <see cref="Release"/>; placeholders {commit} and {haos_sha256} are filled in.</param>
    /// <param name="hostKeyFingerprint">Overrides the host key the orchestrator expects (wrong-key tests).</param>
    /// <param name="settings">More orchestrator settings.</param>
    /// <param name="wrapperSettings">More lines for the wrapper's ctrlable-build.conf (later lines win).</param>
    /// <param name="release">The release the manifest is (its file name).</param>
    /// <param name="haosVersion">The Home Assistant OS version whose image the stand-in download serves (and GitHub knows).</param>
    public static async Task<BuildHost> StartAsync(string manifest, string? hostKeyFingerprint = null, IDictionary<string, string?>? settings = null, string wrapperSettings = "",
        string release = Release, string haosVersion = HaosVersion)
    {
        var dir = TempDirectory.Create("build-host");
        var sim = await PveSimulator.StartAsync(new PveSimOptions
        {
            Version = PveVersion.V9_1,
            Nodes = [Node],
            TimingScale = 0.01,
            RandomSeed = 11,
        });
        var spec = LeastPrivilege.Spec(PveVersion.V9_1);
        var seeded = sim.Seed(spec with { Users = [.. spec.Users, new UserSeed("root@pam", [new TokenSeed("admin", Privsep: false)])] });
        var provisioner = seeded.Tokens.Single(t => t.TokenId.StartsWith("ctrlable@", StringComparison.Ordinal));
        var admin = seeded.Tokens.Single(t => t.TokenId == "root@pam!admin");

        // The stand-ins and their settings (builders run with a cleared environment, so settings live in files).
        var bin = Path.Combine(dir, "bin");
        System.IO.Directory.CreateDirectory(bin);
        foreach (var tool in new[] { "pct", "qm", "pveam", "pvesh", "pvesim.sh", "curl", "ip", "haos-firstboot" })
        {
            var target = Path.Combine(bin, tool);
            File.Copy(Path.Combine(RepoPaths.Root, "host", "testing", tool), target);
            File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
        }

        await File.WriteAllTextAsync(Path.Combine(bin, "pvesim.env"), $"""
            PVESIM_URL={sim.BaseAddress}
            PVESIM_TOKEN={admin.TokenId}={admin.Secret}
            PVESIM_NODE={Node}
            PVESIM_CT_ROOT={Path.Combine(dir, "ct")}
            PVESIM_IMPORT_DIR={Path.Combine(dir, "imports")}

            """);
        await File.WriteAllTextAsync(Path.Combine(bin, "fetch-guard.env"), $"FETCH_LOG={Path.Combine(dir, "fetch.log")}\nREAL_CURL=/usr/bin/curl\n");

        var upstreamCommit = await CreateUpstreamAsync(Path.Combine(dir, "upstream"));
        var haosSha256 = await CreateHaosImageAsync(Path.Combine(dir, "haos-images", haosVersion), haosVersion);
        var gitHub = await GitHubApiFixture.StartAsync(Path.Combine(dir, "github"));
        gitHub.ServeRelease(haosVersion, haosSha256);

        // The UEFI firmware qemu-server needs (a real host has it from pve-edk2-firmware); only its presence is checked.
        var firmware = Path.Combine(dir, "pve-edk2-firmware");
        System.IO.Directory.CreateDirectory(firmware);
        await File.WriteAllTextAsync(Path.Combine(firmware, "OVMF_CODE_4M.secboot.fd"), "firmware");
        await File.WriteAllTextAsync(Path.Combine(firmware, "OVMF_VARS_4M.fd"), "variables");

        var firstboot = Path.Combine(dir, "firstboot");
        System.IO.Directory.CreateDirectory(firstboot);
        await File.WriteAllTextAsync(Path.Combine(firstboot, "ctrlable-firstboot"), "#!/bin/sh\necho ctrlable first boot\n");
        await File.WriteAllTextAsync(Path.Combine(firstboot, "ctrlable-firstboot.service"), "[Unit]\nDescription=Ctrlable first boot\n");

        var releases = Path.Combine(dir, "releases");
        System.IO.Directory.CreateDirectory(releases);
        await File.WriteAllTextAsync(Path.Combine(releases, release + ".yaml"), manifest.Replace("{commit}", upstreamCommit, StringComparison.Ordinal).Replace("{haos_sha256}", haosSha256, StringComparison.Ordinal));

        var certificate = CreateCertificate(Path.Combine(dir, "orchestrator.pfx"));
        var port = TestPorts.Free();
        var orchestratorUrl = new Uri($"https://127.0.0.1:{port}");
        var conf = Path.Combine(dir, "ctrlable-build.conf");
        await File.WriteAllTextAsync(conf, $"""
            PATH="{bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
            ORCHESTRATOR_URL={orchestratorUrl.ToString().TrimEnd('/')}
            ORCHESTRATOR_FINGERPRINT={ProxmoxConnection.FingerprintOf(certificate)}
            UPSTREAM_URL=file://{Path.Combine(dir, "upstream")}
            WORK_DIR={Path.Combine(dir, "work")}
            LOG_DIR={Path.Combine(dir, "logs")}
            LOCK_FILE={Path.Combine(dir, "ctrlable-build.lock")}
            MIRROR_BIND=127.0.0.1
            MIRROR_PORT={TestPorts.Free()}
            TEMPLATE_STORAGE=local
            FIRSTBOOT_DIR={firstboot}
            COMMUNITY_SCRIPTS_DIR={Path.Combine(dir, "community-scripts")}
            HAOS_IMAGE_URL_BASE=file://{Path.Combine(dir, "haos-images")}
            HAOS_CACHE_DIR={Path.Combine(dir, "haos-cache")}
            NODE={Node}
            PYTHON=/usr/bin/python3
            HAOS_PORTS="{sim.HomeAssistantPorts!.Value.LegacyPort} {sim.HomeAssistantPorts!.Value.HttpPort}"
            HAOS_POLL_SECONDS=0.1
            HAOS_BOOT_TIMEOUT=120
            HAOS_SHUTDOWN_TIMEOUT=30
            HAOS_WORK_FREE_GB=0
            GITHUB_API_URL={gitHub.Url}
            GITHUB_API_CA_BUNDLE={gitHub.CaBundlePath}
            OVMF_CODE={Path.Combine(firmware, "OVMF_CODE_4M.secboot.fd")}
            OVMF_VARS={Path.Combine(firmware, "OVMF_VARS_4M.fd")}
            ALLOWED_STORAGES=local-lvm
            ALLOWED_BRIDGES=vmbr0
            ALLOWED_POOLS=ctrlable-templates
            ALLOW_PRIVILEGED=ct/docker.sh
            {wrapperSettings}

            """);

        var ssh = await SshServer.StartAsync($"env CTRLABLE_BUILD_CONF={conf} {Wrapper}");
        var appSettings = new Dictionary<string, string?>(ProvisionerApp.ProxmoxSettings(sim, provisioner))
        {
            ["Tls:CertificatePath"] = Path.Combine(dir, "orchestrator.pfx"),
            ["HostTrigger:Host"] = "127.0.0.1",
            ["HostTrigger:Port"] = ssh.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["HostTrigger:User"] = ssh.User,
            ["HostTrigger:KeyPath"] = ssh.ClientKeyPath,
            ["HostTrigger:HostKeyFingerprint"] = hostKeyFingerprint ?? ssh.HostKeyFingerprint,
            ["HostTrigger:BuildTimeoutMinutes"] = "10",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            appSettings[key] = value;
        }

        var app = new ProvisionerApp(releases, appSettings, kestrelUrls: orchestratorUrl.ToString().TrimEnd('/'));
        app.StartServer();
        return new BuildHost(dir, release, sim, ssh, app, gitHub, orchestratorUrl, certificate, upstreamCommit, haosSha256);
    }

    /// <summary>An HTTPS client of the orchestrator with an API token of <paramref name="role"/>, pinned to its certificate.</summary>
    public async Task<HttpClient> ClientAsync(Role role)
    {
        var token = await App.CreateTokenAsync(role);
        var client = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString(HashAlgorithmName.SHA256) == Certificate.GetCertHashString(HashAlgorithmName.SHA256) },
        })
        {
            BaseAddress = OrchestratorUrl,
            Timeout = TimeSpan.FromMinutes(5),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Runs <paramref name="command"/> as the build key would (the forced command decides what runs), writing <paramref name="input"/> to its stdin.</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunOverSshAsync(SshServer ssh, string command, string input)
    {
        using var key = new Renci.SshNet.PrivateKeyFile(ssh.ClientKeyPath);
        using var client = new Renci.SshNet.SshClient(new Renci.SshNet.ConnectionInfo("127.0.0.1", ssh.Port, ssh.User, new Renci.SshNet.PrivateKeyAuthenticationMethod(ssh.User, key)));
        client.HostKeyReceived += (_, e) => e.CanTrust = e.FingerPrintSHA256 == Ctrlable.Provisioner.Build.SshHostTrigger.NormalizeFingerprint(ssh.HostKeyFingerprint);
        await client.ConnectAsync(CancellationToken.None);
        using var sshCommand = client.CreateCommand(command);
        var execution = sshCommand.ExecuteAsync();
        try
        {
            await using var stdin = sshCommand.CreateInputStream();
            await stdin.WriteAsync(System.Text.Encoding.UTF8.GetBytes(input));
        }
        catch (InvalidOperationException)
        {
            // The command already ended (a refusal reads no input; SSH.NET then has no input stream to give): its exit
            // status and output below say what happened.
        }

        try
        {
            await execution.WaitAsync(ChildProcess.DefaultLimit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"'{command}' over SSH did not finish within {ChildProcess.DefaultLimit.TotalSeconds:0} s");
        }

        return (sshCommand.ExitStatus ?? -1, sshCommand.Result, sshCommand.Error);
    }

    /// <summary>The guest config as the emulator holds it, or null.</summary>
    public IReadOnlyDictionary<string, string>? Guest(int vmid)
    {
        lock (Sim.State.Sync)
        {
            return Sim.State.Guest(vmid) is { } guest ? new Dictionary<string, string>(guest.Config) : null;
        }
    }

    /// <summary>What a test compares to prove a guest untouched: its kind, whether it runs, and its config; null when gone.</summary>
    public GuestSnapshot? Snapshot(int vmid)
    {
        lock (Sim.State.Sync)
        {
            return Sim.State.Guest(vmid) is { } guest
                ? new GuestSnapshot(guest.Kind.ToString(), guest.Running, guest.Config.Select(kv => $"{kv.Key}={kv.Value}").ToList())
                : null;
        }
    }

    /// <summary>Someone else's guest on the same host (an admin's, a deploy's), with a description of its own.</summary>
    public GuestSnapshot AddForeignGuest(int vmid, GuestKind kind, string description, bool running = false, bool template = false)
    {
        Sim.AddGuest(new TemplateSeed(vmid, $"foreign-{vmid}", kind) { Description = description, Running = running && !template, Tags = ["customer"] }, isTemplate: template);
        return Snapshot(vmid)!;
    }

    public async ValueTask DisposeAsync()
    {
        App.Dispose();
        Ssh.Dispose();
        await GitHub.DisposeAsync();
        await Sim.DisposeAsync();
        Certificate.Dispose();
        TempDirectory.TryDelete(Directory);
    }

    /// <summary>Commits the fixture tree into a fresh repository, tags it <see cref="Ref"/>, returns the commit.</summary>
    public static async Task<string> CreateUpstreamAsync(string path)
    {
        CopyTree(Path.Combine(RepoPaths.Root, "backend", "Ctrlable.Provisioner.Tests", "Build", "Fixtures", "upstream"), path);
        await Git(path, "init", "--quiet");
        await Git(path, "add", "-A");
        await Git(path, "commit", "--quiet", "-m", "fixture upstream");
        await Git(path, "tag", Ref);
        return (await Git(path, "rev-parse", "HEAD")).Trim();
    }

    /// <summary>Another process holds the build lock, as a running build does; returns once /proc/locks lists it.</summary>
    /// <summary>A template-done line ends with the build run's ownership proof: its run id and the template's MAC (§8a).</summary>
    public static bool EndsWithOwnershipProof(string line) => OwnershipProof().IsMatch(line);

    [System.Text.RegularExpressions.GeneratedRegex(@" run=[0-9a-f]{16} mac=([0-9A-F]{2}:){5}[0-9A-F]{2}$")]
    private static partial System.Text.RegularExpressions.Regex OwnershipProof();

    public static async Task<Process> HoldLockAsync(string lockFile)
    {
        var holder = Process.Start(new ProcessStartInfo("flock", [lockFile, "sleep", "120"]) { UseShellExecute = false })!;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        async Task WaitAsync(Func<Task<bool>> held)
        {
            while (!await held())
            {
                if (holder.HasExited || DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"flock did not take {lockFile} (exited: {holder.HasExited})");
                }

                await Task.Delay(20);
            }
        }

        await WaitAsync(() => Task.FromResult(File.Exists(lockFile)));
        // /proc/locks names the file as major:minor:inode (hex, hex, decimal); the inode alone may be another device's.
        var id = (await SshServer.Run("stat", "-c", "%Hd %Ld %i", lockFile)).Split(' ', StringSplitOptions.TrimEntries);
        var file = $" {int.Parse(id[0], CultureInfo.InvariantCulture):x2}:{int.Parse(id[1], CultureInfo.InvariantCulture):x2}:{id[2]} ";
        await WaitAsync(async () => (await File.ReadAllLinesAsync("/proc/locks")).Any(l => l.Contains(file, StringComparison.Ordinal)));
        return holder;
    }

    public static Task<string> Git(string repository, params string[] args) =>
        SshServer.Run("git", ["-C", repository, "-c", "user.name=fixture", "-c", "user.email=fixture@example.invalid", "-c", "commit.gpgsign=false", .. args]);

    /// <summary>
    /// A small Home Assistant OS disk as the release ships it (host/testing/make-haos-image: its partitions, a GRUB
    /// environment without a machine-id, no Core yet), xz-compressed as HAOS publishes it; returns its SHA-256.
    /// </summary>
    private static async Task<string> CreateHaosImageAsync(string directory, string version)
    {
        System.IO.Directory.CreateDirectory(directory);
        var image = Path.Combine(directory, $"haos_ova-{version}.qcow2");
        await SshServer.Run(Path.Combine(RepoPaths.Root, "host", "testing", "make-haos-image"), image);
        await SshServer.Run("xz", "-z", image);
        return Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(image + ".xz")));
    }

    /// <summary>The disk file the wrapper imported into <paramref name="vmid"/>'s <paramref name="key"/> (a copy the qm stand-in keeps).</summary>
    public string ImportedDisk(int vmid, string key) => Path.Combine(Directory, "imports", $"{vmid}-{key}.raw");

    private static X509Certificate2 CreateCertificate(string pfxPath)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=orchestrator.test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var pfx = certificate.Export(X509ContentType.Pkcs12);
        File.WriteAllBytes(pfxPath, pfx);
        return X509CertificateLoader.LoadPkcs12(pfx, null);
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
            File.SetUnixFileMode(target, File.GetUnixFileMode(file));
        }
    }
}

/// <summary>A guest as the emulator holds it: kind, running or not, and every config line ("key=value").</summary>
internal sealed record GuestSnapshot(string Kind, bool Running, IReadOnlyList<string> Config);
