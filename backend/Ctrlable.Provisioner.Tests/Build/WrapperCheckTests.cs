using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Guests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// "ctrlable-build --check &lt;release&gt;" through the real sshd and forced command: the preflight reads the plan with
/// the ticket (never the release secret), checks what a build would need — tools, firmware, the build lock, the host's
/// bounds, the upstream tag, the template VMIDs, the storage and its free space, the HAOS digest on GitHub, the work
/// directory, the bridge, the pool, the first-boot service — and prints one line per check passed and per problem,
/// then the count; it changes nothing: no lock taken, no ledger, no guest, no file left behind.
/// </summary>
public sealed class WrapperCheckTests(WrapperCheckTests.Host host) : IClassFixture<WrapperCheckTests.Host>
{
    [Fact]
    public async Task A_host_ready_for_the_build_passes_every_check_and_nothing_changes()
    {
        var run = await host.RunAsync(Plan(9400, "v1.0.0", host.Build.UpstreamCommit, kept: true));

        run.Exit.Should().Be(0, run.ToString());
        run.Stderr.Should().BeEmpty();
        var lines = run.Stdout.TrimEnd('\n').Split('\n');
        lines[^1].Should().Be("::ctrlable check-done problems=0");
        lines[..^1].Should().OnlyContain(l => l.StartsWith("::ctrlable check-ok text=", StringComparison.Ordinal));
        var ok = lines[..^1].Select(l => l["::ctrlable check-ok text=".Length..]).ToList();
        ok.Should().Contain([
            "host tools present: git curl python3 openssl flock xz qemu-img debugfs e2fsck",
            $"UEFI firmware present: {Path.Combine(host.Build.Directory, "pve-edk2-firmware", "OVMF_CODE_4M.secboot.fd")}",
            "no build is running on this host",
            "storage local-lvm, bridge vmbr0 and pool ctrlable-templates are allowed on this host",
            $"upstream file://{host.Upstream} is reachable and tag v1.0.0 points at the manifest's commit {host.Build.UpstreamCommit}",
            "kept: VMID 9403 already holds this release's template; it will be skipped",
            "template VMIDs free: 9400 9401 9402",
            $"ctrlable-pro: GitHub's release API gives the SHA-256 of haos_ova-{BuildHost.HaosVersion}.qcow2.xz ({host.Build.HaosSha256}; digest from GitHub at build time, not pinned in the manifest)",
            "bridge vmbr0 exists",
            "pool ctrlable-templates exists",
            $"the first-boot service is installed in {Path.Combine(host.Build.Directory, "firstboot")}",
        ]);
        ok.Should().ContainMatch("storage 'local-lvm' on pve1 is active and has * GiB free for the 44 GiB the 3 template(s) to build need");
        ok.Should().ContainMatch($"{run.WorkDir} has * GB free for the first boot of Home Assistant OS (needs 0 GB)");

        run.AssertNothingChanged(host);
        host.OrchestratorRequests.Should().Equal("GET /api/build-host/plan");
    }

    private static readonly string[] ProblemNames =
    [
        "tool", "firmware", "lock", "storage-not-allowed", "privileged", "tag-moved", "vmid-taken", "little-storage",
        "no-storage", "github-404", "work-dir", "bridge-missing", "pool-missing", "firstboot-missing",
    ];

    public static TheoryData<string> Problems => [.. ProblemNames];

    [Theory]
    [MemberData(nameof(Problems))]
    public async Task Each_problem_yields_exactly_its_line_and_exit_2(string problem)
    {
        // Each case its own VMIDs: a guest one case adds stays out of the others' way.
        var vmid = 9410 + (10 * Array.IndexOf(ProblemNames, problem));
        var (reference, commit, storage, bridge, pool, haos, unprivileged) = ("v1.0.0", host.Build.UpstreamCommit, "local-lvm", "vmbr0", "ctrlable-templates", BuildHost.HaosVersion, true);
        var settings = "";
        string expected;
        Process? lockHolder = null;
        long? totalBytes = null;
        switch (problem)
        {
            case "tool":
                // A PATH with every tool but debugfs (e2fsck, in the same directory on this machine, stays).
                var sbin = Path.Combine(host.Directory, "sbin-without-debugfs");
                Directory.CreateDirectory(sbin);
                if (!File.Exists(Path.Combine(sbin, "e2fsck")))
                {
                    File.CreateSymbolicLink(Path.Combine(sbin, "e2fsck"), "/usr/sbin/e2fsck");
                }

                settings = $"PATH=\"{Path.Combine(host.Build.Directory, "bin")}:{sbin}:/usr/local/bin:/usr/bin:/bin\"";
                expected = Regex.Escape("debugfs is missing on this host ('debugfs' is not on PATH; it comes with e2fsprogs)");
                break;
            case "firmware":
                settings = "OVMF_CODE=/nonexistent/OVMF_CODE_4M.secboot.fd";
                expected = Regex.Escape("the UEFI firmware /nonexistent/OVMF_CODE_4M.secboot.fd is missing (package pve-edk2-firmware; OVMF_CODE and OVMF_VARS in ") + ".*" + Regex.Escape("): the Home Assistant OS VM cannot start without it");
                break;
            case "lock":
                lockHolder = await BuildHost.HoldLockAsync(host.Build.LockFile);
                expected = Regex.Escape($"a build is running on this host (it holds {host.Build.LockFile}); another build is refused until it has finished");
                break;
            case "storage-not-allowed":
                settings = "ALLOWED_STORAGES=other-lvm";
                expected = "the plan asks for storage 'local-lvm', which ALLOWED_STORAGES in .* does not list \\(other-lvm\\)";
                break;
            case "privileged":
                unprivileged = false;
                settings = "ALLOW_PRIVILEGED=no";
                expected = Regex.Escape("zwavejs: a privileged container is refused: ALLOW_PRIVILEGED in ") + ".*" + Regex.Escape(" does not allow ct/zwave-js-ui.sh (it is 'no'); make the template unprivileged or add ct/zwave-js-ui.sh there");
                break;
            case "tag-moved":
                reference = "v9.9.9";
                expected = Regex.Escape($"upstream tag v9.9.9 points at {host.MovedCommit}, but the manifest recorded {commit}: the tag moved, and a build would refuse it");
                break;
            case "vmid-taken":
                host.Foreign[vmid + 1] = host.Build.AddForeignGuest(vmid + 1, GuestKind.Lxc, "The customer's Home Assistant backup box");
                expected = Regex.Escape($"zwavejs: VMID {vmid + 1} is in use by a guest this build did not create; free the VMID or choose another vmid");
                break;
            case "little-storage":
                lock (host.Build.Sim.State.Sync)
                {
                    var lvm = host.Build.Sim.State.Storages["local-lvm"];
                    totalBytes = lvm.TotalBytes;
                    lvm.TotalBytes = host.Build.Sim.State.UsedBytes(lvm, BuildHost.Node) + (20L << 30);
                }

                expected = Regex.Escape("storage 'local-lvm' on pve1 has 20.0 GiB free, but the 3 template(s) to build need 44 GiB");
                break;
            case "no-storage":
                storage = "nostore";
                settings = "ALLOWED_STORAGES=nostore";
                expected = Regex.Escape("storage 'nostore' cannot be used on node pve1: ") + ".*nostore.*";
                break;
            case "github-404":
                haos = "15.9";
                expected = Regex.Escape($"ctrlable-pro: the manifest gives no haos_sha256 and GitHub has no release 15.9 of home-assistant/operating-system ({host.Build.GitHub.Url.ToString().TrimEnd('/')}/repos/home-assistant/operating-system/releases/tags/15.9 answered 404)");
                break;
            case "work-dir":
                settings = "HAOS_WORK_FREE_GB=999999";
                expected = ".* has [0-9]+ GB free; the first boot of Home Assistant OS needs 999999 GB there";
                break;
            case "bridge-missing":
                bridge = "vmbr7";
                settings = "ALLOWED_BRIDGES=vmbr7";
                expected = Regex.Escape("bridge 'vmbr7' does not exist on this host (ip link show dev vmbr7)");
                break;
            case "pool-missing":
                pool = "nopool";
                settings = "ALLOWED_POOLS=nopool";
                expected = Regex.Escape("pool 'nopool' does not exist or cannot be read; templates are added to it (pveum pool add nopool)");
                break;
            case "firstboot-missing":
                settings = "FIRSTBOOT_DIR=/nonexistent/firstboot";
                expected = Regex.Escape("the first-boot service is not installed on this host (/nonexistent/firstboot/ctrlable-firstboot{,.service})");
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(problem), problem, null);
        }

        WrapperRun run;
        try
        {
            run = await host.RunAsync(Plan(vmid, reference, commit, storage, bridge, pool, haos, unprivileged), settings);
        }
        finally
        {
            if (lockHolder is not null)
            {
                lockHolder.HasExited.Should().BeFalse("the check never takes the lock from a running build");
                lockHolder.Kill(entireProcessTree: true);
                await lockHolder.WaitForExitAsync();
                lockHolder.Dispose();
            }

            if (totalBytes is { } total)
            {
                lock (host.Build.Sim.State.Sync)
                {
                    host.Build.Sim.State.Storages["local-lvm"].TotalBytes = total;
                }
            }
        }

        run.Exit.Should().Be(2, run.ToString());
        var lines = run.Stdout.TrimEnd('\n').Split('\n');
        lines.Where(l => l.StartsWith("::ctrlable check-problem ", StringComparison.Ordinal)).Should().ContainSingle(run.ToString())
            .Which.Should().MatchRegex($"^::ctrlable check-problem text={expected}$");
        lines[^1].Should().Be("::ctrlable check-done problems=1");
        lines.Should().OnlyContain(l => l.StartsWith("::ctrlable check-", StringComparison.Ordinal));
        run.AssertNothingChanged(host);
        host.OrchestratorRequests.Should().Equal("GET /api/build-host/plan");
    }

    [Fact]
    public async Task A_plan_that_cannot_be_used_means_the_check_could_not_run()
    {
        var plan = Plan(9500, "v1.0.0", host.Build.UpstreamCommit).Replace($"release\t{BuildHost.Release}", "release\t2026.08", StringComparison.Ordinal);

        var run = await host.RunAsync(plan);

        run.Exit.Should().Be(1, run.ToString());
        run.Stderr.Should().Be($"ctrlable-build: plan: release '2026.08' is not the requested {BuildHost.Release}\n");
        run.Stdout.Should().BeEmpty();
        run.AssertNothingChanged(host);
    }

    /// <summary>The plan the orchestrator would write for a release of ctrlable-pro, zwavejs and docker-portainer (and "kept").</summary>
    private static string Plan(int vmid, string reference, string commit, string storage = "local-lvm", string bridge = "vmbr0", string pool = "ctrlable-templates",
        string haosVersion = BuildHost.HaosVersion, bool unprivileged = true, bool kept = false)
    {
        var lines = new List<string>
        {
            "ctrlable-build-plan\t1", $"release\t{BuildHost.Release}", "build\t5", $"ref\t{reference}", $"commit\t{commit}", "force\t0",
            $"storage\t{storage}", $"bridge\t{bridge}", $"pool\t{pool}",
            $"template\tctrlable-pro\tvm\tvm/haos-vm.sh\t{vmid}\t2\t4096\t32\tdebian\t12\t1\t-\t0\t{haosVersion}\t-\t1\tctrlable-base-2026.07.tar",
            $"template\tzwavejs\tlxc\tct/zwave-js-ui.sh\t{vmid + 1}\t2\t1024\t4\tdebian\t12\t{(unprivileged ? 1 : 0)}\t11.x\t0\t-\t-\t1\t-",
            $"template\tdocker-portainer\tlxc\tct/docker.sh\t{vmid + 2}\t2\t2048\t8\tdebian\t12\t1\t-\t1\t-\t-\t0\t-",
        };
        if (kept)
        {
            lines.Add($"template\tkept\tlxc\tct/zwave-js-ui.sh\t{vmid + 3}\t1\t512\t4\tdebian\t12\t1\t-\t0\t-\t-\t0\t-");
        }

        return string.Join('\n', lines.Append("end")) + "\n";
    }

    /// <summary>
    /// A build host (emulator, stand-ins, fixture upstream with an annotated tag v1.0.0 at the release's commit and v9.9.9
    /// moved to another), others' guests at 100, 999 and 10000 and a template of this release at 9403, a stand-in
    /// orchestrator with the pinned certificate that hands out the plan a test sets, and sshd with the wrapper as forced
    /// command reading <see cref="Conf"/>.
    /// </summary>
    public sealed class Host : IAsyncLifetime
    {
        private WebApplication? _orchestrator;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _requests = new();

        internal BuildHost Build { get; private set; } = null!;
        internal SshServer Ssh { get; private set; } = null!;
        internal Dictionary<int, GuestSnapshot> Foreign { get; } = [];
        public string Directory => Build.Directory;
        public string Upstream => Path.Combine(Build.Directory, "upstream");
        public string MovedCommit { get; private set; } = "";
        public string Conf => Path.Combine(Build.Directory, "check.conf");
        public string Plan { get; set; } = "";
        public IReadOnlyList<string> OrchestratorRequests => [.. _requests];
        private string OrchestratorUrl { get; set; } = "";

        public async Task InitializeAsync()
        {
            Build = await BuildHost.StartAsync(BuildPipelineTests.HaosManifest);
            await BuildHost.Git(Upstream, "tag", "-a", "-m", "release", "v1.0.0", Build.UpstreamCommit);
            await BuildHost.Git(Upstream, "checkout", "--quiet", "-b", "later");
            await File.AppendAllTextAsync(Path.Combine(Upstream, "misc", "build.func"), "\n# a later change\n");
            await BuildHost.Git(Upstream, "commit", "--quiet", "-am", "a later change");
            MovedCommit = (await BuildHost.Git(Upstream, "rev-parse", "HEAD")).Trim();
            await BuildHost.Git(Upstream, "tag", "-a", "-m", "moved", "v9.9.9", MovedCommit);
            await BuildHost.Git(Upstream, "checkout", "--quiet", "-");

            Foreign[100] = Build.AddForeignGuest(100, GuestKind.Lxc, "Pi-hole of the customer (ask Jo)", running: true);
            Foreign[999] = Build.AddForeignGuest(999, GuestKind.Qemu, "Customer NAS");
            Foreign[10000] = Build.AddForeignGuest(10000, GuestKind.Lxc, "Another integrator's template", template: true);
            Foreign[9403] = Build.AddForeignGuest(9403, GuestKind.Lxc,
                $"ctrlable-build release={BuildHost.Release} template=kept commit={Build.UpstreamCommit} build=4 run=0123456789abcdef app_version=-", template: true);

            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.UseHttps(Build.Certificate)));
            builder.Logging.ClearProviders();
            _orchestrator = builder.Build();
            _orchestrator.Use(async (context, next) =>
            {
                _requests.Enqueue($"{context.Request.Method} {context.Request.Path}");
                await next(context);
            });
            _orchestrator.MapGet("/api/build-host/plan", () => Results.Text(Plan, BuildPlan.ContentType));
            _orchestrator.MapPost("/api/build-host/secret", () => Results.Text(new string('5', 64), "text/plain"));
            await _orchestrator.StartAsync();
            OrchestratorUrl = _orchestrator.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
            Ssh = await SshServer.StartAsync($"env CTRLABLE_BUILD_CONF={Conf} {BuildHost.Wrapper}");
        }

        /// <summary>Runs "ctrlable-build --check" over SSH with a ticket, the conf being this host's plus <paramref name="settings"/>.</summary>
        public async Task<WrapperRun> RunAsync(string plan, string settings = "")
        {
            Plan = plan;
            _requests.Clear();
            var dir = Path.Combine(Build.Directory, "checks", Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(Path.Combine(dir, "tmp"));
            await File.WriteAllTextAsync(Conf, await File.ReadAllTextAsync(Build.BuildConf) +
                $"ORCHESTRATOR_URL={OrchestratorUrl}\nWORK_DIR={dir}/work\nLOG_DIR={dir}/logs\nTMPDIR={dir}/tmp\nCOMMUNITY_SCRIPTS_DIR={dir}/community-scripts\nHAOS_CACHE_DIR={dir}/haos-cache\n{settings}\n");
            var guests = GuestIds();
            var (exit, stdout, stderr) = await BuildHost.RunOverSshAsync(Ssh, $"ctrlable-build --check {BuildHost.Release}", $"ticket={BuildTickets.New()}\n");
            return new WrapperRun(exit, stdout, stderr, dir, guests);
        }

        internal List<int> GuestIds()
        {
            lock (Build.Sim.State.Sync)
            {
                return [.. Build.Sim.State.Guests.Keys.Order()];
            }
        }

        public async Task DisposeAsync()
        {
            Ssh?.Dispose();
            if (_orchestrator is not null)
            {
                await _orchestrator.DisposeAsync();
            }

            if (Build is not null)
            {
                await Build.DisposeAsync();
            }
        }
    }

    public sealed record WrapperRun(int Exit, string Stdout, string Stderr, string Directory, IReadOnlyList<int> GuestsBefore)
    {
        public string WorkDir => Path.Combine(Directory, "work");

        /// <summary>No guest created or changed, nothing written: no work or log directory, no ledger, nothing left in TMPDIR.</summary>
        internal void AssertNothingChanged(Host host)
        {
            host.GuestIds().Should().Equal(GuestsBefore, "the check creates and removes no guest");
            foreach (var (vmid, snapshot) in host.Foreign)
            {
                host.Build.Snapshot(vmid).Should().BeEquivalentTo(snapshot, $"guest {vmid} is not the check's");
            }

            System.IO.Directory.EnumerateFileSystemEntries(Directory).Select(Path.GetFileName).Should().Equal(["tmp"], "the check writes nothing (work, logs, ledger, caches)");
            System.IO.Directory.EnumerateFileSystemEntries(Path.Combine(Directory, "tmp")).Should().BeEmpty("the check's temporary directory is removed");
        }

        public override string ToString() => $"exit {Exit}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
    }
}
