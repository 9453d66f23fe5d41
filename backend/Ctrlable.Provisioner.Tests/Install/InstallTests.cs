using System.Net;
using System.Text.Json;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>
/// The real install.sh on a bare emulated Proxmox VE host (8.2 and 9.1): the stand-ins for pveversion, pveum,
/// pveam, pct and pvesh turn its commands into API calls, so what it creates is checked where Proxmox keeps it.
/// This class: the checks before anything changes, the bundle's sources and the help. Whole installs are in
/// <see cref="InstallRunTests"/> (one class per Proxmox VE release) and <see cref="InstallRerunTests"/>: classes run
/// in parallel, the tests of one class one after another.
/// </summary>
public sealed class InstallTests
{
    public static TheoryData<string, string[], string> PreflightFailures => new()
    {
        { "not-root", [], "install.sh: must run as root (on the Proxmox VE host)" },
        { "old", [], "install.sh: Proxmox VE 8.1.4 is too old: 8.2 or later is needed" },
        { "storage", ["--storage", "tank"], "install.sh: storage 'tank' does not exist on node pve1 or holds no containers (rootdir); available: local-lvm" },
        { "bridge", ["--bridge", "vmbr7"], "install.sh: bridge 'vmbr7' does not exist on node pve1" },
        { "memory", [], "install.sh: not enough free memory on pve1: 1024 MiB needed, " },
        { "checksum", [], "install.sh: bundle checksum mismatch: expected " },
        { "option", ["--memory", "256"], "install.sh: --memory must be at least 512 (MiB) (got '256')" },
        { "vmid", ["--vmid", "500"], "install.sh: VMID 500 is taken by a guest this installation did not create: it is left alone; pick another --vmid" },
    };

    [Theory]
    [MemberData(nameof(PreflightFailures))]
    public async Task A_failed_preflight_is_one_clear_line_a_nonzero_exit_and_no_change(string failure, string[] args, string message)
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        var environment = new Dictionary<string, string>();
        switch (failure)
        {
            case "not-root":
                environment["CTRLABLE_EUID"] = "1000";
                break;
            case "old":
                // A pveversion of an older release, first on PATH.
                var old = Path.Combine(host.Directory, "old");
                Directory.CreateDirectory(old);
                await File.WriteAllTextAsync(Path.Combine(old, "pveversion"), "#!/bin/sh\necho 'pve-manager/8.1.4/ec5affc9e41f1d79 (running kernel: 6.5.11-8-pve)'\n");
                File.SetUnixFileMode(Path.Combine(old, "pveversion"), (UnixFileMode)0b111_101_101);
                environment["PATH"] = $"{old}:{host.Bin}:/usr/local/bin:/usr/bin:/bin";
                break;
            case "memory":
                lock (host.Sim.State.Sync)
                {
                    host.Sim.State.Nodes[InstallHost.Node].MaxMem = 768L << 20;
                }

                break;
            case "checksum":
                await File.WriteAllTextAsync(host.Bundle + ".sha256", new string('0', 64) + "  bundle\n");
                break;
        }

        var run = await host.RunAsync(args, environment);

        run.ExitCode.Should().NotBe(0, run.ToString());
        run.Error.TrimEnd('\n').Should().NotContain("\n", "one line").And.StartWith(message);
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Access.Pools.Should().BeEmpty();
            host.Sim.State.Access.Users.Keys.Should().Equal("root@pam");
        }
    }

    [Fact]
    public async Task A_bundle_url_is_downloaded_and_checked_against_its_sha256()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        var port = TestPorts.Free();
        using var server = new HttpListener();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        var checksum = await File.ReadAllBytesAsync(host.Bundle + ".sha256");
        var served = new Dictionary<string, byte[]>
        {
            ["/bundle.tar.gz"] = await File.ReadAllBytesAsync(host.Bundle),
            ["/bundle.tar.gz.sha256"] = checksum,
        };
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var context = await server.GetContextAsync().WaitAsync(stop.Token);
                if (served.TryGetValue(context.Request.Url!.AbsolutePath, out var body))
                {
                    await context.Response.OutputStream.WriteAsync(body);
                }
                else
                {
                    context.Response.StatusCode = 404;
                }

                context.Response.Close();
            }
        });
        var url = $"http://127.0.0.1:{port}/bundle.tar.gz";

        var ok = await host.RunAsync(["--bundle", url, "--dry-run"]);
        ok.ExitCode.Should().Be(0, ok.ToString());
        ok.Output.Should().Contain($"bundle {InstallHost.Version}, checksum verified");

        served["/bundle.tar.gz.sha256"] = System.Text.Encoding.ASCII.GetBytes(new string('f', 64) + "  bundle.tar.gz\n");
        var bad = await host.RunAsync(["--bundle", url, "--dry-run"]);
        bad.ExitCode.Should().NotBe(0);
        bad.Error.Should().StartWith("install.sh: bundle checksum mismatch: expected ffff");

        var missing = await host.RunAsync(["--bundle", $"http://127.0.0.1:{port}/nothing.tar.gz", "--dry-run"]);
        missing.ExitCode.Should().NotBe(0);
        missing.Error.Should().StartWith($"install.sh: cannot download the bundle from http://127.0.0.1:{port}/nothing.tar.gz (curl: (22)")
            .And.EndWith("404)\n");
        missing.Error.Count(c => c == '\n').Should().Be(1);
        await stop.CancelAsync();
        try
        {
            await serving;
        }
        catch (OperationCanceledException)
        {
            // The server loop was waiting for the next request.
        }
    }

    [Fact]
    public async Task The_unpacked_install_sh_finds_the_tarball_it_came_from()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        File.Copy(host.Bundle, Path.Combine(host.Unpacked, "..", Path.GetFileName(host.Bundle)));

        var run = await host.RunAsync(["--dry-run"], script: Path.Combine(host.Unpacked, "install.sh"));

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain($"ok       bundle {InstallHost.Version}").And.Contain("+ pct create ");
    }

    [Fact]
    public async Task On_a_cluster_member_the_dry_run_lists_the_nodes_and_install_sh_installs_only_on_its_own_node()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1, otherNodes: ["pve2", "pve3"]);
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Nodes["pve3"].Online = false;
        }

        var dry = await host.RunAsync(["--dry-run"]);

        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().MatchRegex($@"ok +cluster \S+, nodes: {InstallHost.Node} \(this node\), pve2, pve3 \(offline\)")
            .And.Contain("access (user, role, token, pools, ACLs) is cluster-wide: set once, from this node")
            .And.Contain($"build trigger on {InstallHost.Node}; storage local-lvm is not shared: the templates built here are on {InstallHost.Node} only");

        // The container, the build trigger and its files are the node's own: another node's name is refused, nothing done.
        var elsewhere = await host.RunAsync(["--node", "pve2"]);
        elsewhere.ExitCode.Should().NotBe(0);
        elsewhere.Error.Trim().Should().EndWith($"this is node {InstallHost.Node}, not pve2: run install.sh on the node that is to hold the container and the build trigger");
        elsewhere.Output.Should().NotContain("changed");
    }

    [Fact]
    public async Task On_a_cluster_member_the_build_trigger_goes_where_the_template_storage_is_and_its_node_is_recorded()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1, otherNodes: ["pve2"]);
        lock (host.Sim.State.Sync)
        {
            // pve2's own disks (storage.cfg "nodes pve2"), and a Ceph pool every node reaches.
            host.Sim.State.AddStorage("pve2-lvm", "lvmthin", "rootdir,images", nodes: ["pve2"]);
            host.Sim.State.AddStorage("ceph", "rbd", "rootdir,images", shared: true);
        }

        // Templates onto a storage only pve2 has: the build trigger here could not put them there; nothing is done.
        var elsewhere = await host.RunAsync(["--storage", "pve2-lvm"]);
        elsewhere.ExitCode.Should().NotBe(0);
        elsewhere.Error.Trim().Should().Be($"install.sh: storage 'pve2-lvm' is local to node pve2, not to this node {InstallHost.Node}: the build trigger builds the templates on the node that holds their storage; run install.sh on pve2, or pass a storage {InstallHost.Node} has");
        elsewhere.Output.Should().NotContain("changed");
        host.Orchestrator().Should().BeNull();

        // Onto the shared storage: this node builds, and the orchestrator's settings say so.
        var run = await host.RunAsync(["--storage", "ceph"]);
        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain($"build trigger on {InstallHost.Node}; storage ceph is shared: {InstallHost.Node} (this node) builds the templates, which serve every node");
        var env = host.OrchestratorEnv(host.OrchestratorVmid);
        env["CTRLABLE_HOSTTRIGGER__NODE"].Should().Be(InstallHost.Node);
        env["CTRLABLE_PROXMOX__STORAGE"].Should().Be("ceph");
    }

    [Fact]
    public async Task Help_documents_every_option()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        var help = await host.RunAsync(["--help"], defaults: false);

        help.ExitCode.Should().Be(0);
        foreach (var option in new[] { "--bundle PATH|URL", "--vmid", "--hostname", "--storage", "--template-storage", "--bridge", "--vlan", "--ip CIDR|dhcp", "--gateway", "--memory", "--cores", "--disk", "--port", "--node", "--proxmox-url", "--host-address", "--dry-run" })
        {
            help.Output.Should().Contain(option);
        }

        var bad = await host.RunAsync(["--colour", "blue"], defaults: false);
        bad.ExitCode.Should().NotBe(0);
        bad.Error.Should().Be("install.sh: unknown option '--colour' (see --help)\n");
    }

    [Fact]
    public void The_documented_privileges_in_install_sh_are_the_emulators_least_privilege_set()
    {
        // Parsed from the script so a changed list cannot slip past (the install runs above check the same via the emulator).
        var script = File.ReadAllText(Path.Combine(RepoPaths.Root, "install.sh"));
        var line = script.Split('\n').Single(l => l.Contains("printf '%s' \"VM.Audit", StringComparison.Ordinal));
        var privs = line[(line.IndexOf('"', StringComparison.Ordinal) + 1)..line.LastIndexOf('"')].Split(' ');
        privs.Select(p => p == "$agent" ? "VM.GuestAgent.Audit" : p).Should().BeEquivalentTo(LeastPrivilege.Privileges(PveVersion.V9_1));
        privs.Select(p => p == "$agent" ? "VM.Monitor" : p).Should().BeEquivalentTo(LeastPrivilege.Privileges(PveVersion.V8_2));
        JsonSerializer.Serialize(privs).Should().NotContain("Administrator");
    }

    /// <summary>install.sh's record of what it created: "key TAB value" lines.</summary>
    internal static Dictionary<string, string> InstallRecord(InstallHost host) =>
        File.ReadAllLines(host.StateFile).Where(l => l.Contains('\t', StringComparison.Ordinal))
            .Select(l => l.Split('\t', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    internal static Dictionary<string, string?> ProxmoxSettingsOf(Dictionary<string, string> env) =>
        env.Where(kv => kv.Key.StartsWith("CTRLABLE_PROXMOX__", StringComparison.Ordinal))
            .ToDictionary(kv => "Proxmox:" + kv.Key["CTRLABLE_PROXMOX__".Length..], kv => (string?)kv.Value);

    /// <summary>The installed token's secret as Proxmox knows it.</summary>
    internal static string TokenSecret(InstallHost host)
    {
        lock (host.Sim.State.Sync)
        {
            return host.Sim.State.Access.Users["ctrlable@pve"].Tokens["provisioner"].Secret;
        }
    }

    /// <summary>The token secret the orchestrator holds (encrypted) in the container's data directory.</summary>
    internal static async Task<string?> StoredTokenSecretAsync(InstallHost host, int vmid)
    {
        using var app = new ProvisionerApp(dataDirectory: host.DataDirectory(vmid), settings: ProxmoxSettingsOf(host.OrchestratorEnv(vmid)));
        return await app.Service<SecretStore>().GetAsync(SecretKind.ProxmoxTokenSecret, "default");
    }
}
