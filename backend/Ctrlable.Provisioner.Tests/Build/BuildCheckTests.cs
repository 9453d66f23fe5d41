using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// The preflight before a build, orchestrator side: POST /api/releases/{r}/check reaches the host through a real sshd
/// with the build key's forced command, asks for <c>ctrlable-build --check &lt;release&gt;</c> with a check ticket on
/// standard input and turns the contract lines into the answer. The forced command here is a stand-in
/// (<see cref="StandIn"/>) that shows the ticket to the orchestrator as the wrapper would (plan, then secret) and
/// prints what the test gives it.
/// </summary>
public sealed class BuildCheckTests : IAsyncLifetime
{
    /// <summary>The stand-in for ctrlable-build: records what it was asked, uses the ticket, prints and exits as told.</summary>
    private const string StandIn = """
        #!/bin/bash
        set -euo pipefail
        dir=$1
        printf '%s\n' "${SSH_ORIGINAL_COMMAND-}" >"$dir/command"
        if [[ -e $dir/refuse-at-once ]]; then
          # As a ctrlable-build without --check does: refused before reading anything.
          echo "ctrlable-build: refused: expected 'ctrlable-build <release>' with a release such as 2026.06" >&2
          exit 64
        fi
        IFS= read -r line || true
        ticket=${line#ticket=}
        printf '%s\n' "$ticket" >"$dir/ticket"
        url=$(cat "$dir/url")
        curl -sk -o "$dir/plan" -w '%{http_code}' -H "Authorization: Bearer $ticket" "$url/api/build-host/plan" >"$dir/plan.status" || true
        curl -sk -o "$dir/secret" -w '%{http_code}' -X POST -H "Authorization: Bearer $ticket" "$url/api/build-host/secret?reuse=1" >"$dir/secret.status" || true
        cat "$dir/stdout"
        if [[ -s $dir/stderr ]]; then cat "$dir/stderr" >&2; fi
        exit "$(cat "$dir/exit")"
        """;

    private ProxmoxHarness _pve = null!;
    private SshServer _ssh = null!;
    private ProvisionerApp _app = null!;
    private string _dir = null!;
    private string _releases = null!;

    public async Task InitializeAsync()
    {
        _dir = TempDirectory.Create("check-host");
        var script = Path.Combine(_dir, "ctrlable-build");
        await File.WriteAllTextAsync(script, StandIn.ReplaceLineEndings("\n") + "\n");
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
        _ssh = await SshServer.StartAsync($"{script} {_dir}");
        _pve = await ProxmoxHarness.StartAsync();
        _releases = ActivationManifest.CreateReleasesDirectory();
        var settings = new Dictionary<string, string?>(ProvisionerApp.ProxmoxSettings(_pve))
        {
            ["HostTrigger:Host"] = "127.0.0.1",
            ["HostTrigger:Port"] = _ssh.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["HostTrigger:User"] = _ssh.User,
            ["HostTrigger:KeyPath"] = _ssh.ClientKeyPath,
            ["HostTrigger:HostKeyFingerprint"] = _ssh.HostKeyFingerprint,
        };
        _app = new ProvisionerApp(_releases, settings, https: true);
        await File.WriteAllTextAsync(Path.Combine(_dir, "url"), _app.HttpsAddress.ToString().TrimEnd('/'));
    }

    public async Task DisposeAsync()
    {
        _app.Dispose();
        _ssh.Dispose();
        await _pve.DisposeAsync();
        TempDirectory.TryDelete(_releases);
        TempDirectory.TryDelete(_dir);
    }

    [Fact]
    public async Task A_check_asks_the_host_with_a_plan_only_ticket_and_answers_its_problems_and_passed_checks()
    {
        await HostAnswersAsync(2,
            "::ctrlable check-ok text=upstream tag 2026-05-30 resolves to the recorded commit",
            "[zwavejs] ::ctrlable check-problem text=a builder's line is not the host's",
            "::ctrlable check-problem text=storage local-lvm has 3 GiB free; the templates need 44 GiB",
            "::ctrlable check-ok text=qemu-img and OVMF present",
            "::ctrlable check-problem text=VMID 9101 is in use by a guest this host did not build",
            "::ctrlable check-done problems=2");
        using var client = await _app.CreateClientAsync(Role.Operator);

        var response = await client.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/check", new { });

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync() + _ssh.Log);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        result.GetProperty("ok").GetBoolean().Should().BeFalse();
        Strings(result, "problems").Should().Equal(
            "storage local-lvm has 3 GiB free; the templates need 44 GiB",
            "VMID 9101 is in use by a guest this host did not build");
        Strings(result, "passed").Should().Equal("upstream tag 2026-05-30 resolves to the recorded commit", "qemu-img and OVMF present");

        // The host was asked for the check, with a ticket that opened the plan (as build 0, every template) but not the secret.
        (await HostFileAsync("command")).Should().Be($"ctrlable-build --check {BuildHost.Release}");
        var ticket = await HostFileAsync("ticket");
        ticket.Should().MatchRegex("^ctb_[A-Za-z0-9_-]{43}$");
        (await HostFileAsync("plan.status")).Should().Be("200");
        var plan = await HostFileAsync("plan");
        plan.Should().StartWith("ctrlable-build-plan\t1\n").And.Contain($"release\t{BuildHost.Release}\nbuild\t0\n").And.Contain("force\t0\n");
        PlanTemplates(plan).Should().Equal("ctrlable-pro", "zwavejs", "docker-portainer");
        (await HostFileAsync("secret.status")).Should().Be("403", "a check ticket never gets the release secret");
        (await _app.Service<Ctrlable.Provisioner.Provision.ReleaseSecrets>().GetAsync(BuildHost.Release, CancellationToken.None)).Should().BeNull();

        // The ticket died with the check, and nothing was logged of it.
        using var wrapper = _app.CreateTokenClient(ticket);
        (await wrapper.GetAsync("/api/build-host/plan")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Logs.Lines.Should().NotContain(l => l.Contains(ticket, StringComparison.Ordinal));
        (await _app.Service<Ctrlable.Provisioner.Build.BuildRepository>().ListAsync(null, 10)).Should().BeEmpty("a check is not a build");
    }

    [Fact]
    public async Task A_check_for_some_templates_plans_only_those_and_no_problem_means_ok()
    {
        await HostAnswersAsync(0, "::ctrlable check-ok text=VMID 9103 is free", "::ctrlable check-done problems=0");
        using var client = await _app.CreateClientAsync(Role.Operator);

        var result = await client.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/check", new { templates = new[] { "docker-portainer" } });

        result.StatusCode.Should().Be(HttpStatusCode.OK, await result.Content.ReadAsStringAsync());
        var body = await result.Content.ReadFromJsonAsync<JsonElement>();
        body.GetProperty("ok").GetBoolean().Should().BeTrue();
        Strings(body, "problems").Should().BeEmpty();
        PlanTemplates(await HostFileAsync("plan")).Should().Equal("docker-portainer");
    }

    [Theory]
    [InlineData(64, "ctrlable-build: usage: ctrlable-build <release>", HttpStatusCode.BadGateway, "check-refused", "The host refused the check: usage: ctrlable-build <release>.")]
    [InlineData(1, "ctrlable-build: cannot read /etc/ctrlable/ctrlable-build.conf", HttpStatusCode.BadGateway, "check-failed", "ctrlable-build --check could not run (exit code 1): cannot read /etc/ctrlable/ctrlable-build.conf")]
    public async Task A_check_the_host_refuses_or_cannot_run_is_a_problem_with_the_host_s_reason(int exit, string stderr, HttpStatusCode status, string code, string detail)
    {
        await HostFailsAsync(exit, stderr);
        using var client = await _app.CreateClientAsync(Role.Operator);

        var response = await client.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/check", new { });

        response.StatusCode.Should().Be(status);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("code").GetString().Should().Be(code);
        problem.GetProperty("detail").GetString().Should().StartWith(detail);
    }

    [Fact]
    public async Task A_wrapper_without_check_refuses_before_reading_and_the_answer_says_to_install_the_current_one()
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "refuse-at-once"), "");
        using var client = await _app.CreateClientAsync(Role.Operator);

        var response = await client.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/check", new { });

        response.StatusCode.Should().Be(HttpStatusCode.BadGateway, await response.Content.ReadAsStringAsync());
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("code").GetString().Should().Be("check-refused");
        problem.GetProperty("detail").GetString().Should().Be(
            "The host refused the check: expected 'ctrlable-build <release>' with a release such as 2026.06. A ctrlable-build without --check is " +
            "older than this orchestrator: install the host/ctrlable-build of this version on the Proxmox host (install.sh does).");
    }

    [Fact]
    public async Task A_check_is_for_operators_of_known_releases_and_templates()
    {
        using var viewer = await _app.CreateClientAsync(Role.Viewer);
        (await viewer.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/check", new { })).StatusCode.Should().Be(HttpStatusCode.Forbidden);

        using var client = await _app.CreateClientAsync(Role.Operator);
        (await client.PostAsJsonAsync("/api/releases/1999.01/check", new { })).StatusCode.Should().Be(HttpStatusCode.NotFound);
        var unknown = await client.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/check", new { templates = new[] { "frigate" } });
        unknown.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("templates[0]")[0].GetString().Should().Contain("has no template 'frigate'");

        // A tag without its commit is not checked (nor built): the plan needs the commit the tag must resolve to.
        var pinned = await File.ReadAllTextAsync(Path.Combine(_releases, BuildHost.Release + ".yaml"));
        await File.WriteAllTextAsync(Path.Combine(_releases, "2026.08.yaml"), pinned
            .Replace($"release: \"{BuildHost.Release}\"", "release: \"2026.08\"", StringComparison.Ordinal)
            .Replace($"community_scripts_commit: \"{ActivationManifest.Commit}\"", "", StringComparison.Ordinal));
        var unpinned = await client.PostAsJsonAsync("/api/releases/2026.08/check", new { });
        unpinned.StatusCode.Should().Be(HttpStatusCode.Conflict, await unpinned.Content.ReadAsStringAsync());
        (await unpinned.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("release-not-pinned");
        File.Exists(Path.Combine(_dir, "command")).Should().BeFalse("nothing reached the host");
    }

    [Fact]
    public async Task A_host_that_cannot_be_reached_or_is_not_configured_is_a_problem_naming_it()
    {
        var closedPort = TestPorts.Free();
        using var elsewhere = new ProvisionerApp(_releases, new Dictionary<string, string?>(ProvisionerApp.ProxmoxSettings(_pve))
        {
            ["HostTrigger:Host"] = "127.0.0.1",
            ["HostTrigger:Port"] = closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["HostTrigger:KeyPath"] = _ssh.ClientKeyPath,
            ["HostTrigger:HostKeyFingerprint"] = _ssh.HostKeyFingerprint,
        });
        using var client = await elsewhere.CreateClientAsync(Role.Operator);

        var unreachable = await client.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/check", new { });

        unreachable.StatusCode.Should().Be(HttpStatusCode.BadGateway);
        var problem = await unreachable.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("code").GetString().Should().Be("trigger-unreachable");
        problem.GetProperty("detail").GetString().Should().StartWith($"Cannot connect to the host trigger 127.0.0.1:{closedPort}");

        using var bare = new ProvisionerApp(_releases, ProvisionerApp.ProxmoxSettings(_pve));
        using var bareClient = await bare.CreateClientAsync(Role.Operator);
        var notConfigured = await bareClient.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/check", new { });
        notConfigured.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await notConfigured.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("trigger-not-configured");
    }

    private Task HostAnswersAsync(int exit, params string[] stdout) => HostRunsAsync(exit, "", stdout);

    private Task HostFailsAsync(int exit, string stderr) => HostRunsAsync(exit, stderr, []);

    private async Task HostRunsAsync(int exit, string stderr, string[] stdout)
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "stdout"), string.Concat(stdout.Select(l => l + "\n")));
        await File.WriteAllTextAsync(Path.Combine(_dir, "stderr"), stderr.Length == 0 ? "" : stderr + "\n");
        await File.WriteAllTextAsync(Path.Combine(_dir, "exit"), exit.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private async Task<string> HostFileAsync(string name)
    {
        var text = await File.ReadAllTextAsync(Path.Combine(_dir, name));
        return name == "plan" ? text : text.TrimEnd('\n');
    }

    private static List<string> PlanTemplates(string plan) =>
        [.. plan.Split('\n').Where(l => l.StartsWith("template\t", StringComparison.Ordinal)).Select(l => l.Split('\t')[1])];

    private static List<string?> Strings(JsonElement result, string name) => [.. result.GetProperty(name).EnumerateArray().Select(e => e.GetString())];
}
