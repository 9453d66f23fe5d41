using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>What one run of install.sh did: its exit code and output.</summary>
internal sealed record InstallRun(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}

/// <summary>
/// A bare "Proxmox VE host" for the real install.sh: the Proxmox emulator (what pveversion, pveum, pveam, pct and
/// pvesh stand-ins act on, as root@pam), a sandbox root for the host's files (node certificate, SSH host key,
/// authorized_keys, /usr/local/sbin, /etc/ctrlable, ...), stand-in container roots, and an orchestrator bundle
/// packed like scripts/publish.sh packs it (with a stub in place of the published binary).
/// </summary>
internal sealed class InstallHost : IAsyncDisposable
{
    public const string Node = "pve1";
    public const string Version = "0.0.0-test";
    public const int Foreign = 500;
    public const int QemuTemplate = 9000;
    public const int LxcTemplate = 9001;

    private InstallHost(string directory, PveSimulator sim, string adminToken, DeferredBootBehaviour boot)
    {
        Directory = directory;
        Sim = sim;
        AdminToken = adminToken;
        Boot = boot;
        Foreigners = ForeignGuests.Capture(sim, [.. ForeignGuests.Vmids, Foreign]);
    }

    public string Directory { get; }
    public PveSimulator Sim { get; }
    public string AdminToken { get; }
    public DeferredBootBehaviour Boot { get; }

    /// <summary>The other admin's guests as they were before install.sh ran: every test ends with them untouched.</summary>
    public ForeignGuests.Snapshot Foreigners { get; }
    public string StateFile => Path.Combine(HostRoot, "etc", "ctrlable", "install.state");
    public string Bin => Path.Combine(Directory, "bin");
    public string HostRoot => Path.Combine(Directory, "host");
    public string Bundle => Path.Combine(Directory, $"ctrlable-provisioner-{Version}-linux-x64.tar.gz");

    /// <summary>The bundle's directory as a dealer unpacks it: its install.sh beside the tarball it came from.</summary>
    public string Unpacked => Path.Combine(Directory, "stage", $"ctrlable-provisioner-{Version}-linux-x64");
    public string AuthorizedKeys => Path.Combine(HostRoot, "root", ".ssh", "authorized_keys");
    public string HostKeyPub => Path.Combine(HostRoot, "etc", "ssh", "ssh_host_ed25519_key.pub");

    /// <summary>The Proxmox API as the orchestrator's container would reach it (scheme, host, port).</summary>
    public string ProxmoxUrl => $"https://{Sim.BaseAddress.Authority}";

    public string CtRoot(int vmid) => Path.Combine(Directory, "ct", vmid.ToString(CultureInfo.InvariantCulture), "rootfs");

    /// <param name="version">The Proxmox VE version the emulator answers as.</param>
    /// <param name="otherNodes">Further cluster members besides <see cref="Node"/>, the node install.sh runs on.</param>
    public static async Task<InstallHost> StartAsync(PveVersion version, IReadOnlyList<string>? otherNodes = null)
    {
        var dir = TempDirectory.Create("install-host");
        var boot = new DeferredBootBehaviour();
        var sim = await PveSimulator.StartAsync(new PveSimOptions
        {
            Version = version,
            Nodes = [Node, .. otherNodes ?? []],
            TimingScale = 0.01,
            RandomSeed = 5,
            BootBehaviour = boot,
            // Only root's token (for the stand-ins), the templates a build would have made and a customer's VM:
            // install.sh must create everything of the product's access itself.
            Seed = new SeedSpec
            {
                Users = [new UserSeed("root@pam", [new TokenSeed("admin", Privsep: false)])],
                Templates =
                [
                    // Tagged as the build tags the HAOS template: its clones run the Home Assistant emulator.
                    new TemplateSeed(QemuTemplate, "ctrlable-pro", SimGuestKind.Qemu, 32) { Tags = ["ctrlable", Ctrlable.Provisioner.HomeAssistant.Setup.HomeAssistantSetup.TemplateTag] },
                    new TemplateSeed(LxcTemplate, "zwavejs", SimGuestKind.Lxc, 8, FirstBoot: true),
                ],
                Guests = [new TemplateSeed(Foreign, "customer-nas", SimGuestKind.Qemu, 16) { Running = true }, .. ForeignGuests.Seeds()],
            },
        });
        string admin;
        lock (sim.State.Sync)
        {
            admin = $"root@pam!admin={sim.State.Access.Users["root@pam"].Tokens["admin"].Secret}";
        }

        var host = new InstallHost(dir, sim, admin, boot);
        await host.PrepareAsync();
        return host;
    }

    private async Task PrepareAsync()
    {
        System.IO.Directory.CreateDirectory(Bin);
        foreach (var tool in new[] { "pct", "pveam", "pvesh", "pveum", "pveversion", "pvesim.sh", "systemctl", "useradd" })
        {
            var target = Path.Combine(Bin, tool);
            File.Copy(Path.Combine(RepoPaths.Root, "host", "testing", tool), target);
            File.SetUnixFileMode(target, (UnixFileMode)0b111_101_101);
        }

        await File.WriteAllTextAsync(Path.Combine(Bin, "pvesim.env"), $"""
            PVESIM_URL={Sim.BaseAddress}
            PVESIM_TOKEN={AdminToken}
            PVESIM_NODE={Node}
            PVESIM_CT_ROOT={Path.Combine(Directory, "ct")}

            """);

        // The node's certificate where pve-cluster keeps it, and an SSH host key.
        var nodeDir = Path.Combine(HostRoot, "etc", "pve", "nodes", Node);
        System.IO.Directory.CreateDirectory(nodeDir);
        lock (Sim.State.Sync)
        {
            File.WriteAllText(Path.Combine(nodeDir, "pve-ssl.pem"), Sim.State.Nodes[Node].Certificate.ExportCertificatePem());
        }

        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(HostKeyPub)!);
        await SshServer.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@pve1", "-f", HostKeyPub[..^".pub".Length]);

        await PackBundleAsync();
    }

    /// <summary>The bundle's layout (scripts/publish.sh) with the repository's scripts and a stub binary.</summary>
    private async Task PackBundleAsync()
    {
        var name = $"ctrlable-provisioner-{Version}-linux-x64";
        var stage = Path.Combine(Directory, "stage", name);
        void Copy(string from, string to, UnixFileMode mode)
        {
            var target = Path.Combine(stage, to);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(RepoPaths.Root, from), target);
            File.SetUnixFileMode(target, mode);
        }

        const UnixFileMode exec = (UnixFileMode)0b111_101_101, file = (UnixFileMode)0b110_100_100;
        Copy("install.sh", "install.sh", exec);
        Copy("host/ctrlable-build", "host/ctrlable-build", exec);
        Copy("host/ctrlable-build.conf.example", "host/ctrlable-build.conf.example", file);
        Copy("host/firstboot/ctrlable-firstboot.sh", "host/firstboot/ctrlable-firstboot.sh", exec);
        Copy("host/firstboot/ctrlable-firstboot.service", "host/firstboot/ctrlable-firstboot.service", file);
        Copy("deploy/ctrlable-provisioner.service", "deploy/ctrlable-provisioner.service", file);
        Copy("deploy/ct-setup.sh", "deploy/ct-setup.sh", exec);
        System.IO.Directory.CreateDirectory(Path.Combine(stage, "app"));
        // In place of the published binary: this test build's orchestrator, its container paths under the stand-in root
        // (pct exec sets CTRLABLE_ROOT), so the token secret install.sh hands over is really stored encrypted.
        await File.WriteAllTextAsync(Path.Combine(stage, "app", "Ctrlable.Provisioner"), $$"""
            #!/bin/sh
            export CTRLABLE_STORAGE__DATADIRECTORY="$CTRLABLE_ROOT$CTRLABLE_STORAGE__DATADIRECTORY"
            export CTRLABLE_TLS__CERTIFICATEPATH="$CTRLABLE_ROOT$CTRLABLE_TLS__CERTIFICATEPATH"
            export CTRLABLE_TLS__CERTIFICATEKEYPATH="$CTRLABLE_ROOT$CTRLABLE_TLS__CERTIFICATEKEYPATH"
            export CTRLABLE_STORAGE__RELEASESDIRECTORY="{{RepoPaths.Releases}}"
            exec dotnet "{{Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.dll")}}" "$@"

            """);
        File.SetUnixFileMode(Path.Combine(stage, "app", "Ctrlable.Provisioner"), exec);
        await File.WriteAllTextAsync(Path.Combine(stage, "VERSION"), Version + "\n");
        await SshServer.Run("tar", "-czf", Bundle, "-C", Path.Combine(Directory, "stage"), name);
        var hash = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Bundle)));
        await File.WriteAllTextAsync(Bundle + ".sha256", $"{hash}  {Path.GetFileName(Bundle)}\n");
    }

    /// <summary>Runs the repository's install.sh with the stand-ins first on PATH and the sandbox as host root.</summary>
    public async Task<InstallRun> RunAsync(IEnumerable<string>? extraArgs = null, IDictionary<string, string>? environment = null, bool defaults = true, string? script = null)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script ?? Path.Combine(RepoPaths.Root, "install.sh"));
        if (defaults)
        {
            foreach (var arg in (script is null ? new[] { "--bundle", Bundle } : []).Concat(["--node", Node, "--proxmox-url", ProxmoxUrl, "--host-address", "127.0.0.1"]))
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in extraArgs ?? [])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = $"{Bin}:/usr/local/bin:/usr/bin:/bin";
        start.Environment["HOME"] = Directory;
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment["CTRLABLE_HOST_ROOT"] = HostRoot;
        start.Environment["CTRLABLE_EUID"] = "0";
        start.Environment["CTRLABLE_WAIT_SECONDS"] = "30";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var run = await ChildProcess.RunAsync(start, limit: TimeSpan.FromMinutes(3));
        return new InstallRun(run.ExitCode, run.Stdout, run.Stderr);
    }

    /// <summary>The orchestrator's container install.sh made (its description says so), or null.</summary>
    public SimGuest? Orchestrator()
    {
        lock (Sim.State.Sync)
        {
            return Sim.State.Guests.Values.SingleOrDefault(g => g.Kind == SimGuestKind.Lxc && g.Config.GetValueOrDefault("description", "").StartsWith("Ctrlable Provisioner (orchestrator)", StringComparison.Ordinal));
        }
    }

    public int OrchestratorVmid => Orchestrator()?.Vmid ?? throw new InvalidOperationException("install.sh made no orchestrator container");

    /// <summary>Runs a host stand-in (pct, pveum, ...) as root, like an admin at the host's shell.</summary>
    public Task<string> ToolAsync(string tool, params string[] args) => SshServer.Run(Path.Combine(Bin, tool), args);

    /// <summary>The orchestrator's configuration install.sh wrote into container <paramref name="vmid"/>.</summary>
    public Dictionary<string, string> OrchestratorEnv(int vmid) =>
        File.ReadAllLines(Path.Combine(CtRoot(vmid), "etc", "ctrlable-provisioner", "provisioner.env"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    /// <summary>The orchestrator's data directory inside container <paramref name="vmid"/> (database, key ring).</summary>
    public string DataDirectory(int vmid) => Path.Combine(CtRoot(vmid), "var", "lib", "ctrlable-provisioner");

    public async ValueTask DisposeAsync()
    {
        await Sim.DisposeAsync();
        TempDirectory.TryDelete(Directory);
    }
}
