using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// Activation per template, against a scripted host that reads the plan and the secret with the ticket as the
/// wrapper does: what built is recorded and the release becomes active; what failed is unavailable with the build's
/// reason and rebuilds alone, the others and the release secret untouched. (BuildPipelineTests runs the same through
/// the real wrapper.)
/// </summary>
public sealed class BuildActivationTests : IAsyncLifetime
{
    private const string Release = BuildHost.Release;
    private const string Commit = ActivationManifest.Commit;

    private readonly ScriptedHostTrigger _host = new();
    private ProxmoxHarness _pve = null!;
    private ProvisionerApp _app = null!;
    private string _releases = null!;

    public async Task InitializeAsync()
    {
        _pve = await ProxmoxHarness.StartAsync();
        _releases = ActivationManifest.CreateReleasesDirectory();
        _app = new ProvisionerApp(_releases, ProvisionerApp.ProxmoxSettings(_pve), services: s => s.AddSingleton<IHostTrigger>(_host));
        await _app.EnsureSetUpAsync();
    }

    public async Task DisposeAsync()
    {
        _app.Dispose();
        await _pve.DisposeAsync();
        TempDirectory.TryDelete(_releases);
    }

    [Fact]
    public async Task A_failed_template_leaves_the_others_deployable_and_rebuilds_alone_with_the_same_secret()
    {
        using var client = await _app.CreateClientAsync(Role.Operator);
        string? planOfFirst = null;
        string? secret = null;
        _host.Next = async (command, release, ticket, emit) =>
        {
            command.Should().Be(HostCommand.Build);
            planOfFirst = await PlanAsync(ticket);
            secret = await SecretAsync(ticket, reuse: 0);
            await emit(Upstream);
            await emit(Done("ctrlable-pro", "vm", 9100, "15.1", " haos_version=15.1 rebrand=1 base_backup=ctrlable-base-2026.07.tar haos_digest=github"));
            await emit(Done("zwavejs", "lxc", 9101, "v9.27.2"));
            await emit("::ctrlable template-started template=docker-portainer kind=lxc vmid=9103 builder=ct/docker.sh");
            await emit("::ctrlable template-failed template=docker-portainer vmid=9103 text=ct/docker.sh failed with exit code 1 (see the log)");
            await emit("::ctrlable build-done status=failed built=2 skipped=0 failed=1");
            return 2;
        };

        var first = await BuildAsync(client, new { });

        first.GetProperty("state").GetString().Should().Be("failed");
        first.GetProperty("requestedTemplates").ValueKind.Should().Be(JsonValueKind.Null, "the whole release was asked for");
        TemplateLines(planOfFirst!).Should().Equal("ctrlable-pro", "zwavejs", "docker-portainer");
        var progress = Templates(first);
        progress["ctrlable-pro"].GetProperty("haosDigest").GetString().Should().Be("github");
        progress["zwavejs"].GetProperty("haosDigest").ValueKind.Should().Be(JsonValueKind.Null);

        // The two that built are recorded and deployable: the release is the active one, partly built.
        var releases = _app.Service<ReleaseRepository>();
        (await releases.GetActiveNameAsync()).Should().Be(Release);
        var list = await client.GetFromJsonAsync<JsonElement>("/api/releases");
        var summary = list.EnumerateArray().Single(r => r.GetProperty("name").GetString() == Release);
        summary.GetProperty("active").GetBoolean().Should().BeTrue();
        summary.GetProperty("templatesBuilt").GetInt32().Should().Be(2);
        summary.GetProperty("templateCount").GetInt32().Should().Be(3);
        var dashboard = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");
        dashboard.GetProperty("activeRelease").GetString().Should().Be(Release, "one meaning of active everywhere");

        var detail = await ReleaseTemplatesAsync(client);
        detail["ctrlable-pro"].GetProperty("state").GetString().Should().Be("built");
        detail["ctrlable-pro"].GetProperty("haosDigest").GetString().Should().Be("github");
        detail["zwavejs"].GetProperty("state").GetString().Should().Be("built");
        detail["zwavejs"].GetProperty("reason").ValueKind.Should().Be(JsonValueKind.Null);
        detail["docker-portainer"].GetProperty("state").GetString().Should().Be("failed");
        detail["docker-portainer"].GetProperty("reason").GetString().Should().Be($"build {first.GetProperty("id").GetInt64()} failed: ct/docker.sh failed with exit code 1 (see the log)");
        detail["docker-portainer"].GetProperty("buildId").GetInt64().Should().Be(first.GetProperty("id").GetInt64());
        var kept = (await releases.ListTemplatesAsync(Release)).ToDictionary(t => t.Name);
        kept.Keys.Should().BeEquivalentTo(["ctrlable-pro", "zwavejs"]);
        kept["ctrlable-pro"].HaosDigest.Should().Be("github");
        var alert = (await BuildAlertsAsync()).Should().ContainSingle("a failed build is an incident of its release").Subject;
        alert.Subject.Should().Be($"release/{Release}");
        alert.Title.Should().Be($"Build {first.GetProperty("id").GetInt64()} of release {Release} failed");
        alert.ResolvedAt.Should().BeNull();

        // Rebuild only what failed: the plan carries it alone, and the secret the others carry is handed over again
        // although the host asked for a fresh one (reuse=0: it kept nothing of this plan).
        string? planOfRebuild = null;
        string? secretOfRebuild = null;
        _host.Next = async (_, _, ticket, emit) =>
        {
            planOfRebuild = await PlanAsync(ticket);
            secretOfRebuild = await SecretAsync(ticket, reuse: 0);
            await emit(Upstream);
            await emit(Done("docker-portainer", "lxc", 9103, "27.3.1"));
            await emit("::ctrlable build-done status=succeeded built=1 skipped=0 failed=0");
            return 0;
        };

        var rebuild = await BuildAsync(client, new { templates = new[] { "docker-portainer" } });

        rebuild.GetProperty("state").GetString().Should().Be("succeeded", rebuild.ToString());
        rebuild.GetProperty("requestedTemplates").EnumerateArray().Select(t => t.GetString()).Should().Equal("docker-portainer");
        Templates(rebuild).Keys.Should().Equal("docker-portainer");
        TemplateLines(planOfRebuild!).Should().Equal("docker-portainer");
        planOfRebuild.Should().Contain($"build\t{rebuild.GetProperty("id").GetInt64()}\n");
        secretOfRebuild.Should().Be(secret, "the templates kept from the first build carry this secret");
        (await _app.Service<ReleaseSecrets>().GetAsync(Release, CancellationToken.None)).Should().Be(secret);
        var after = (await releases.ListTemplatesAsync(Release)).ToDictionary(t => t.Name);
        after["ctrlable-pro"].Should().Be(kept["ctrlable-pro"], "a rebuild of another template leaves it as it was");
        after["zwavejs"].Should().Be(kept["zwavejs"]);
        after["docker-portainer"].AppVersion.Should().Be("27.3.1");
        (await ReleaseTemplatesAsync(client)).Values.Should().OnlyContain(t => t.GetProperty("state").GetString() == "built");
        (await BuildAlertsAsync()).Should().ContainSingle().Which.ResolvedDetail.Should().Be($"Build {rebuild.GetProperty("id").GetInt64()} of {Release} succeeded.");
        var (audit, _) = await _app.Service<AuditRepository>().PageAsync(1, 50);
        audit.Should().Contain(a => a.Route == "/api/releases/{release}/build" && a.Target == $"release={Release}; build={rebuild.GetProperty("id").GetInt64()}; templates=docker-portainer");
        audit.Should().Contain(a => a.Route == "/api/build-host/secret" && a.Target == $"release={Release}; reuse=1");
    }

    [Fact]
    public async Task A_build_request_naming_templates_is_validated_against_the_grammar_and_the_manifest()
    {
        using var client = await _app.CreateClientAsync(Role.Operator);

        var unknown = await client.PostAsJsonAsync($"/api/releases/{Release}/build", new { templates = new[] { "zwavejs", "frigate" } });
        unknown.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var problem = await unknown.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").GetProperty("templates[1]")[0].GetString().Should().Be($"{Release} has no template 'frigate'; it has ctrlable-pro, zwavejs, docker-portainer.");

        foreach (var (body, field) in new (object Body, string Field)[]
        {
            (new { templates = Array.Empty<string>() }, "templates"),
            (new { templates = new[] { "zwavejs", "zwavejs" } }, "templates"),
            (new { templates = new[] { "$(id)" } }, "templates[0]"),
        })
        {
            var response = await client.PostAsJsonAsync($"/api/releases/{Release}/build", body);
            response.StatusCode.Should().Be(HttpStatusCode.BadRequest, JsonSerializer.Serialize(body));
            (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue(JsonSerializer.Serialize(body));
        }

        (await _app.Service<BuildRepository>().ListAsync(null, 10)).Should().BeEmpty("a refused request starts nothing");
        using var viewer = await _app.CreateClientAsync(Role.Viewer);
        (await viewer.PostAsJsonAsync($"/api/releases/{Release}/build", new { templates = new[] { "zwavejs" } })).StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Theory]
    [InlineData("manifest", "manifest")]
    [InlineData("github", "github")]
    [InlineData("elsewhere", null)]
    public async Task The_haos_digest_source_of_template_done_is_recorded_as_manifest_or_github(string reported, string? recorded)
    {
        using var client = await _app.CreateClientAsync(Role.Operator);
        _host.Next = async (_, _, ticket, emit) =>
        {
            await PlanAsync(ticket);
            await SecretAsync(ticket, reuse: 0);
            await emit(Upstream);
            await emit(Done("ctrlable-pro", "vm", 9100, "15.1", $" haos_version=15.1 rebrand=1 base_backup=ctrlable-base-2026.07.tar haos_digest={reported}"));
            await emit(Done("zwavejs", "lxc", 9101, "v9.27.2", " haos_digest=github"));
            await emit(Done("docker-portainer", "lxc", 9103, "27.3.1"));
            return 0;
        };

        var build = await BuildAsync(client, new { });

        build.GetProperty("state").GetString().Should().Be("succeeded", build.ToString());
        var progress = Templates(build);
        Text(progress["ctrlable-pro"].GetProperty("haosDigest")).Should().Be(recorded);
        progress["zwavejs"].GetProperty("haosDigest").ValueKind.Should().Be(JsonValueKind.Null, "only the HAOS VM has an image digest");
        Text((await ReleaseTemplatesAsync(client))["ctrlable-pro"].GetProperty("haosDigest")).Should().Be(recorded);
        (await _app.Service<ReleaseRepository>().ListTemplatesAsync(Release)).Single(t => t.Name == "ctrlable-pro").HaosDigest.Should().Be(recorded);
    }

    [Fact]
    public async Task Each_templates_ownership_proof_is_recorded_from_the_run_that_vouched_for_it()
    {
        using var client = await _app.CreateClientAsync(Role.Operator);
        _host.Next = async (_, _, ticket, emit) =>
        {
            await PlanAsync(ticket);
            await SecretAsync(ticket, reuse: 0);
            await emit(Upstream);
            await emit(Done("ctrlable-pro", "vm", 9100, "15.1", " haos_digest=manifest run=1111111111111111 mac=02:aa:00:00:00:01"));
            await emit(Done("zwavejs", "lxc", 9101, "v9.27.2", " run=2222222222222222 mac=02:AA:00:00:00:02"));
            // An older wrapper reports no proof.
            await emit(Done("docker-portainer", "lxc", 9103, "27.3.1"));
            return 0;
        };
        var first = (await BuildAsync(client, new { })).GetProperty("id").GetInt64();

        var proofs = (await _app.Service<ReleaseRepository>().ListOwnedTemplatesAsync(Release, CancellationToken.None)).ToDictionary(t => t.Name);
        (proofs["ctrlable-pro"].BuildId, proofs["ctrlable-pro"].RunId, proofs["ctrlable-pro"].Mac).Should().Be((first, "1111111111111111", "02:AA:00:00:00:01"));
        (proofs["zwavejs"].BuildId, proofs["zwavejs"].RunId, proofs["zwavejs"].Mac).Should().Be((first, "2222222222222222", "02:AA:00:00:00:02"));
        (proofs["docker-portainer"].RunId, proofs["docker-portainer"].Mac).Should().Be(((string?)null, (string?)null));

        // The next build keeps them: zwavejs without a proof (the host's ledger did not back it) keeps the recorded one;
        // docker-portainer, rebuilt with a malformed MAC, gets none (a proof counts only as a well-formed pair).
        _host.Next = async (_, _, ticket, emit) =>
        {
            await PlanAsync(ticket);
            await SecretAsync(ticket, reuse: 1);
            await emit(Upstream);
            await emit($"::ctrlable template-skipped template=ctrlable-pro kind=vm vmid=9100 node=pve1 commit={Commit} app_version=15.1 haos_digest=manifest run=1111111111111111 mac=02:AA:00:00:00:01 text=already built");
            await emit($"::ctrlable template-skipped template=zwavejs kind=lxc vmid=9101 node=pve1 commit={Commit} app_version=v9.27.2 text=already built");
            await emit(Done("docker-portainer", "lxc", 9103, "27.3.1", " run=3333333333333333 mac=02:AA:00:00:00"));
            return 0;
        };
        var second = (await BuildAsync(client, new { })).GetProperty("id").GetInt64();

        proofs = (await _app.Service<ReleaseRepository>().ListOwnedTemplatesAsync(Release, CancellationToken.None)).ToDictionary(t => t.Name);
        (proofs["ctrlable-pro"].BuildId, proofs["ctrlable-pro"].RunId).Should().Be((second, "1111111111111111"));
        (proofs["zwavejs"].BuildId, proofs["zwavejs"].RunId, proofs["zwavejs"].Mac).Should().Be((first, "2222222222222222", "02:AA:00:00:00:02"));
        (proofs["docker-portainer"].RunId, proofs["docker-portainer"].Mac).Should().Be(((string?)null, (string?)null));
    }

    [Fact]
    public async Task A_forced_rebuild_that_fails_a_template_forgets_it_and_keeps_the_rest_deployable()
    {
        using var client = await _app.CreateClientAsync(Role.Operator);
        _host.Next = async (_, _, ticket, emit) =>
        {
            await PlanAsync(ticket);
            await SecretAsync(ticket, reuse: 0);
            await emit(Upstream);
            await emit(Done("ctrlable-pro", "vm", 9100, "15.1"));
            await emit(Done("zwavejs", "lxc", 9101, "v9.27.2"));
            await emit(Done("docker-portainer", "lxc", 9103, "27.3.1"));
            return 0;
        };
        (await BuildAsync(client, new { })).GetProperty("state").GetString().Should().Be("succeeded");

        // Another release became active meanwhile, so forcing a rebuild of this one is allowed.
        var now = DateTimeOffset.UtcNow;
        await _app.Service<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", Commit,
            [new TemplateRow(0, "2026.06", "zwavejs", "lxc", 9001, "pve1", "2026-05-30", Commit, null, now)], now, CancellationToken.None);
        _host.Next = async (_, _, ticket, emit) =>
        {
            (await PlanAsync(ticket)).Should().Contain("force\t1\n");
            await emit(Upstream);
            await emit("::ctrlable step template=zwavejs n=0 of=1 text=Removing the earlier lxc 9101 this host built (run 0123456789abcdef)");
            await emit("::ctrlable template-failed template=zwavejs vmid=9101 text=ct/zwave-js-ui.sh failed with exit code 1 (see the log)");
            return 2;
        };

        var forced = await BuildAsync(client, new { force = true, templates = new[] { "zwavejs" } });

        forced.GetProperty("state").GetString().Should().Be("failed");
        var templates = await ReleaseTemplatesAsync(client);
        templates["zwavejs"].GetProperty("state").GetString().Should().Be("failed", "the forced rebuild removed the old template first");
        templates["zwavejs"].GetProperty("reason").GetString().Should().StartWith($"build {forced.GetProperty("id").GetInt64()} failed: ");
        templates["ctrlable-pro"].GetProperty("state").GetString().Should().Be("built");
        (await _app.Service<ReleaseRepository>().GetActiveNameAsync()).Should().Be("2026.06", "a build that left no template of its release changes nothing");
    }

    private const string Upstream = $"::ctrlable upstream ref={BuildHost.Ref} commit={Commit}";

    private static string Done(string template, string kind, int vmid, string appVersion, string extra = "") =>
        $"::ctrlable template-done template={template} kind={kind} vmid={vmid} node=pve1 commit={Commit} app_version={appVersion}{extra}";

    private async Task<JsonElement> BuildAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync($"/api/releases/{Release}/build", body);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await _app.Service<BuildService>().WaitAsync(id).WaitAsync(TimeSpan.FromMinutes(1));
        return (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{id}")).GetProperty("build");
    }

    private async Task<string> PlanAsync(string ticket)
    {
        using var wrapper = _app.CreateTokenClient(ticket);
        var response = await wrapper.GetAsync("/api/build-host/plan");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return await response.Content.ReadAsStringAsync();
    }

    private async Task<string> SecretAsync(string ticket, int reuse)
    {
        using var wrapper = _app.CreateTokenClient(ticket);
        var response = await wrapper.PostAsync($"/api/build-host/secret?reuse={reuse}", null);
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadAsStringAsync();
    }

    private static string? Text(JsonElement value) => value.ValueKind == JsonValueKind.Null ? null : value.GetString();

    private static List<string> TemplateLines(string plan) =>
        [.. plan.Split('\n').Where(l => l.StartsWith("template\t", StringComparison.Ordinal)).Select(l => l.Split('\t')[1])];

    private static Dictionary<string, JsonElement> Templates(JsonElement build) =>
        build.GetProperty("templates").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);

    private static async Task<Dictionary<string, JsonElement>> ReleaseTemplatesAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<JsonElement>($"/api/releases/{Release}")).GetProperty("templates").EnumerateArray()
            .ToDictionary(t => t.GetProperty("name").GetString()!);

    private async Task<IReadOnlyList<AlertIncidentView>> BuildAlertsAsync() =>
        [.. (await _app.Service<AlertEvents>().ListAsync(openOnly: false, 100, CancellationToken.None))
            .Where(i => i.Kind == AlertKinds.BuildFailed)];
}
