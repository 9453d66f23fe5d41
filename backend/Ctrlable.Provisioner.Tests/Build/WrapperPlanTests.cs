using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// host/ctrlable-build judges the plan itself, whatever the orchestrator validated: these tests serve it plans
/// the orchestrator would never write, from a stand-in orchestrator with the pinned certificate, and run the real
/// wrapper against the stand-ins and the emulator. A plan outside the shared grammar, a commit the tag does not
/// point to, or a storage, bridge, pool or privilege this host does not allow is refused before anything runs; a
/// template this host does not allow fails alone.
/// </summary>
public sealed class WrapperPlanTests(WrapperPlanTests.Host host) : IClassFixture<WrapperPlanTests.Host>
{
    // Each case its own VMID: a case that wrongly builds leaves nothing in the way of the others.
    public static TheoryData<string, string, int> BadFields => new()
    {
        { "app_version", "$(id)", 9310 },
        { "app_version", "`id`", 9311 },
        { "app_version", "12;id", 9312 },
        { "version", "$(id)", 9313 },
        { "version", "`id`", 9314 },
        { "version", "12;id", 9315 },
        { "version", "12.3.4", 9316 },
        { "version", "12345", 9317 },
        { "app_version", new string('a', 65), 9318 },
        { "base_backup", "b" + new string('a', 128), 9319 },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task A_plan_outside_the_grammar_is_refused_before_anything_runs(string field, string value, int vmid)
    {
        var template = field switch
        {
            "app_version" => Template("zwavejs", "ct/zwave-js-ui.sh", vmid, appVersion: value),
            "version" => Template("zwavejs", "ct/zwave-js-ui.sh", vmid, version: value),
            _ => Template("zwavejs", "ct/zwave-js-ui.sh", vmid, baseBackup: value),
        };

        var run = await host.RunAsync(Plan(BuildHost.Ref, host.Build.UpstreamCommit, templates: [template]));

        run.Exit.Should().Be(1, run.ToString());
        var shown = value.Length > 80 ? value[..80] : value;
        run.Stderr.Should().Be($"ctrlable-build: plan: invalid {field} '{shown}'\n");
        run.AssertNothingRan(host.Build, vmid);
    }

    [Fact]
    public async Task A_plan_with_a_bare_commit_for_ref_is_refused_before_anything_is_fetched()
    {
        var run = await host.RunAsync(Plan(host.ForkCommit, host.ForkCommit, templates: [Template("zwavejs", "ct/zwave-js-ui.sh", 9320)]));

        run.Exit.Should().Be(1, run.ToString());
        run.Stderr.Should().Be($"ctrlable-build: plan: ref '{host.ForkCommit}' is a commit, not a tag: the host builds only a tag of UPSTREAM_URL, which it resolves and compares with the plan's commit\n");
        run.AssertNothingRan(host.Build, 9320);
        File.Exists(host.ForkRan).Should().BeFalse("nothing of the fork's commit ran");
    }

    [Fact]
    public async Task A_commit_the_tag_does_not_point_to_is_refused_although_upstream_serves_it()
    {
        // The fork's commit is in the upstream's object store and served on request (as GitHub serves a fork's
        // commit through the upstream's URL), but the release's tag points elsewhere.
        var run = await host.RunAsync(Plan(BuildHost.Ref, host.ForkCommit, templates: [Template("zwavejs", "ct/zwave-js-ui.sh", 9321)]));

        run.Exit.Should().Be(1, run.ToString());
        run.Stderr.Should().Be($"ctrlable-build: upstream {BuildHost.Ref} resolves to {host.Build.UpstreamCommit}, but the manifest recorded {host.ForkCommit}: the tag moved or the copy was tampered with; refusing to build\n");
        run.Stdout.Should().Contain("::ctrlable build-failed ").And.NotContain("template-started");
        host.Build.Guest(9321).Should().BeNull();
        File.Exists(host.ForkRan).Should().BeFalse();
    }

    [Theory]
    [InlineData("storage", "other-lvm", "ALLOWED_STORAGES", "local-lvm", 9322)]
    [InlineData("bridge", "vmbr9", "ALLOWED_BRIDGES", "vmbr0", 9323)]
    [InlineData("pool", "other-pool", "ALLOWED_POOLS", "ctrlable-templates", 9324)]
    public async Task A_storage_bridge_or_pool_this_host_does_not_allow_is_refused_before_anything_runs(string what, string value, string setting, string allowed, int vmid)
    {
        var plan = Plan(BuildHost.Ref, host.Build.UpstreamCommit,
            storage: what == "storage" ? value : "local-lvm", bridge: what == "bridge" ? value : "vmbr0", pool: what == "pool" ? value : "ctrlable-templates",
            templates: [Template("zwavejs", "ct/zwave-js-ui.sh", vmid)]);

        var run = await host.RunAsync(plan);

        run.Exit.Should().Be(64, run.ToString());
        run.Stderr.Should().Be($"ctrlable-build: refused: the plan asks for {what} '{value}', which {setting} in {run.Conf} does not list ({allowed})\n");
        run.AssertNothingRan(host.Build, vmid);
    }

    [Fact]
    public async Task A_privileged_template_or_a_VMID_this_host_does_not_allow_fails_alone()
    {
        var plan = Plan(BuildHost.Ref, host.Build.UpstreamCommit, templates:
        [
            Template("docker-portainer", "ct/docker.sh", 9303, unprivileged: false),
            Template("far", "ct/zwave-js-ui.sh", 9600),
            Template("zwavejs", "ct/zwave-js-ui.sh", 9302),
        ]);

        var run = await host.RunAsync(plan, "ALLOW_PRIVILEGED=no\nTEMPLATE_VMID_MAX=9500\n");

        run.Exit.Should().Be(2, run.ToString());
        run.Stdout.Should().Contain($"::ctrlable template-failed template=docker-portainer vmid=9303 text=a privileged container is refused: ALLOW_PRIVILEGED in {run.Conf} does not allow ct/docker.sh (it is 'no'); make the template unprivileged or add ct/docker.sh there\n")
            .And.Contain($"::ctrlable template-failed template=far vmid=9600 text=VMID 9600 is outside TEMPLATE_VMID_MIN..TEMPLATE_VMID_MAX (100..9500) of {run.Conf}; refused\n")
            .And.Contain("::ctrlable template-done template=zwavejs kind=lxc vmid=9302 ");
        host.Build.Guest(9303).Should().BeNull();
        host.Build.Guest(9600).Should().BeNull();
        host.Build.Guest(9302)!["template"].Should().Be("1");
        host.Build.Guest(9302)!["unprivileged"].Should().Be("1");
    }

    [Fact]
    public async Task The_orchestrator_refuses_to_build_a_release_not_pinned_to_a_tag_and_its_commit()
    {
        var releases = TempDirectory.Create("releases");
        try
        {
            var manifest = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Releases, "2026.06.yaml"));
            await File.WriteAllTextAsync(Path.Combine(releases, "2026.06.yaml"),
                manifest.Replace("community_scripts_ref: \"2026-05-30\"", "community_scripts_ref: \"dc355d07bff60c8e7bd3263a9c663c391c91ad89\"", StringComparison.Ordinal));
            await File.WriteAllTextAsync(Path.Combine(releases, "2026.07.yaml"),
                manifest.Replace("release: \"2026.06\"", "release: \"2026.07\"", StringComparison.Ordinal)
                    .Replace("community_scripts_commit: \"dc355d07bff60c8e7bd3263a9c663c391c91ad89\"", "", StringComparison.Ordinal)
                    .Replace("2026.06.tar", "2026.07.tar", StringComparison.Ordinal));
            using var app = new ProvisionerApp(releases);
            using var client = await app.CreateClientAsync(Role.Operator);

            // A bare commit as ref is an invalid manifest: the validator's error is named.
            var response = await client.PostAsJsonAsync("/api/releases/2026.06/build", new { });

            response.StatusCode.Should().Be(HttpStatusCode.Conflict, await response.Content.ReadAsStringAsync());
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            problem.GetProperty("code").GetString().Should().Be("release-invalid");
            problem.GetProperty("detail").GetString().Should().Contain("2026.06.yaml:").And.Contain(": community_scripts_ref: ");

            // A tag without its commit is a valid manifest (with a warning) that is not buildable until pinned: the fix is named.
            response = await client.PostAsJsonAsync("/api/releases/2026.07/build", new { });

            response.StatusCode.Should().Be(HttpStatusCode.Conflict, await response.Content.ReadAsStringAsync());
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            problem.GetProperty("code").GetString().Should().Be("release-not-pinned");
            problem.GetProperty("title").GetString().Should().Be("Release is not pinned to a commit");
            problem.GetProperty("detail").GetString().Should().Be("The manifest of 2026.07 names tag '2026-05-30' but not the commit it points to: "
                + "run scripts/pin-release.sh releases/2026.07.yaml where GitHub is reachable (it records community_scripts_commit), then build.");
        }
        finally
        {
            TempDirectory.TryDelete(releases);
        }
    }

    /// <summary>The orchestrator of this host is never asked here; its manifest only has to be valid.</summary>
    private const string Manifest = $$"""
        release: "{{BuildHost.Release}}"
        community_scripts_ref: "{{BuildHost.Ref}}"
        community_scripts_commit: "{commit}"
        proxmox_min_version: "8.2"
        templates:
          zwavejs:
            kind: lxc
            builder: ct/zwave-js-ui.sh
            vmid: 9301
            resources: { cpu: 1, ram: 512, disk: 4 }
        """;

    private static string Plan(string reference, string commit, string storage = "local-lvm", string bridge = "vmbr0", string pool = "ctrlable-templates", params string[] templates) =>
        string.Join('\n', new[]
        {
            "ctrlable-build-plan\t1", $"release\t{BuildHost.Release}", "build\t77", $"ref\t{reference}", $"commit\t{commit}", "force\t0",
            $"storage\t{storage}", $"bridge\t{bridge}", $"pool\t{pool}",
        }.Concat(templates).Append("end")) + "\n";

    private static string Template(string name, string builder, int vmid, bool unprivileged = true, string appVersion = "-", string version = "12", string baseBackup = "-") =>
        $"template\t{name}\tlxc\t{builder}\t{vmid}\t1\t512\t4\tdebian\t{version}\t{(unprivileged ? 1 : 0)}\t{appVersion}\t0\t-\t-\t0\t{baseBackup}";

    /// <summary>
    /// A build host (emulator, stand-ins, the fixture upstream) whose upstream also holds a fork's commit, served
    /// on request but not what the tag points to; and a stand-in orchestrator with the pinned certificate that
    /// hands out whatever plan a test sets.
    /// </summary>
    public sealed class Host : IAsyncLifetime
    {
        private WebApplication? _orchestrator;

        internal BuildHost Build { get; private set; } = null!;

        public string ForkCommit { get; private set; } = "";

        /// <summary>Created only if anything of the fork's commit runs.</summary>
        public string ForkRan => Path.Combine(Build.Directory, "fork-ran");

        public string Plan { get; set; } = "";

        private string OrchestratorUrl { get; set; } = "";

        public async Task InitializeAsync()
        {
            Build = await BuildHost.StartAsync(Manifest);
            var upstream = Path.Combine(Build.Directory, "upstream");
            await BuildHost.Git(upstream, "config", "uploadpack.allowAnySHA1InWant", "true");
            await BuildHost.Git(upstream, "checkout", "--quiet", "-b", "fork");
            await File.AppendAllTextAsync(Path.Combine(upstream, "misc", "build.func"), $"\ntouch '{ForkRan}'\n");
            await BuildHost.Git(upstream, "commit", "--quiet", "-am", "a fork's change");
            ForkCommit = (await BuildHost.Git(upstream, "rev-parse", "HEAD")).Trim();
            await BuildHost.Git(upstream, "checkout", "--quiet", "-");

            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.UseHttps(Build.Certificate)));
            builder.Logging.ClearProviders();
            _orchestrator = builder.Build();
            _orchestrator.MapGet("/api/build-host/plan", () => Results.Text(Plan, BuildPlan.ContentType));
            _orchestrator.MapPost("/api/build-host/secret", () => Results.Text(new string('5', 64), "text/plain"));
            await _orchestrator.StartAsync();
            OrchestratorUrl = _orchestrator.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
        }

        /// <summary>Runs the wrapper as the forced command would, with its own work and log directories.</summary>
        public async Task<WrapperRun> RunAsync(string plan, string settings = "")
        {
            Plan = plan;
            var dir = Path.Combine(Build.Directory, "runs", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            var conf = Path.Combine(dir, "ctrlable-build.conf");
            await File.WriteAllTextAsync(conf, await File.ReadAllTextAsync(Build.BuildConf) +
                $"ORCHESTRATOR_URL={OrchestratorUrl}\nWORK_DIR={dir}/work\nLOG_DIR={dir}/logs\n{settings}");
            var start = new ProcessStartInfo("bash", [BuildHost.Wrapper]);
            start.Environment["SSH_ORIGINAL_COMMAND"] = $"ctrlable-build {BuildHost.Release}";
            start.Environment["CTRLABLE_BUILD_CONF"] = conf;
            var run = await ChildProcess.RunAsync(start, $"ticket={BuildTickets.New()}\n", TimeSpan.FromMinutes(4));
            return new WrapperRun(run.ExitCode, run.Stdout, run.Stderr, conf, Path.Combine(dir, "work"));
        }

        public async Task DisposeAsync()
        {
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

    public sealed record WrapperRun(int Exit, string Stdout, string Stderr, string Conf, string WorkDir)
    {
        /// <summary>Refused before the build started: nothing fetched, no guest created.</summary>
        internal void AssertNothingRan(BuildHost build, int vmid)
        {
            Stdout.Should().NotContain("::ctrlable build-started");
            Directory.Exists(Path.Combine(WorkDir, "upstream")).Should().BeFalse("nothing was fetched");
            build.Guest(vmid).Should().BeNull();
        }

        public override string ToString() => $"exit {Exit}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
    }
}
