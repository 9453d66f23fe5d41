using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Faults;
using Dapper;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// A build that ends for another reason than a template: the host cannot be reached or refuses the build key, the
/// connection breaks mid-build, the build outlives its timeout, the orchestrator stops (cleanly, or killed) while it
/// runs, Proxmox fails a step on the host. Each ends the build failed with a reason a dealer can act on, leaves the
/// releases and templates as they were (the active release stays), releases the orchestrator's one-build-per-host lock,
/// and a new build runs once the host is free. The host here is a real sshd whose forced command is a stand-in
/// (<see cref="StandInHost"/>) taking the host's build lock as ctrlable-build does; the Proxmox case runs the real wrapper.
/// </summary>
public sealed class BuildFailureTests(BuildFailureTests.Emulator emulator) : IClassFixture<BuildFailureTests.Emulator>, IDisposable
{
    /// <summary>The orchestrator's Proxmox host (a build does not call it; it only has to be configured).</summary>
    public sealed class Emulator : IAsyncLifetime
    {
        internal ProxmoxHarness Pve { get; private set; } = null!;

        public async Task InitializeAsync() => Pve = await ProxmoxHarness.StartAsync();

        public async Task DisposeAsync() => await Pve.DisposeAsync();
    }

    private const string Release = BuildHost.Release;
    private const string Previous = "2026.06";
    private const string Commit = ActivationManifest.Commit;

    /// <summary>The first lines of a build that is under way: zwavejs is being built.</summary>
    private static readonly string[] UnderWay =
    [
        $"::ctrlable build-started release={Release} build=0 ref={BuildHost.Ref} templates=3 force=0 run=0123456789abcdef log=/var/log/ctrlable-build/x.log",
        $"::ctrlable upstream ref={BuildHost.Ref} commit={Commit}",
        "::ctrlable template-started template=zwavejs kind=lxc vmid=9101 builder=ct/zwave-js-ui.sh",
        "::ctrlable step template=zwavejs n=2 of=7 text=Running ct/zwave-js-ui.sh (community-scripts 2026-05-30)",
        "[zwavejs] installing zwave-js-ui",
    ];

    /// <summary>What the host prints for a build of zwavejs alone that succeeds.</summary>
    private static readonly string[] ZwavejsBuilt =
    [
        $"::ctrlable upstream ref={BuildHost.Ref} commit={Commit}",
        $"::ctrlable template-done template=zwavejs kind=lxc vmid=9101 node=pve1 commit={Commit} app_version=11.4.1",
        "::ctrlable build-done status=succeeded built=1 skipped=0 failed=0",
    ];

    public enum Unreachable { KeyRefused, NothingListening }

    [Theory]
    [InlineData(Unreachable.KeyRefused)]
    [InlineData(Unreachable.NothingListening)]
    public async Task A_host_that_refuses_the_build_key_or_cannot_be_reached_fails_the_build_with_what_to_do_and_changes_nothing(Unreachable how)
    {
        await using var host = await StandInHost.StartAsync();
        var settings = host.Settings();
        if (how == Unreachable.KeyRefused)
        {
            // A key of its own, which the host's authorized_keys does not list.
            var stranger = Path.Combine(host.Directory, "stranger_key");
            await SshServer.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "not-authorized", "-f", stranger);
            settings["HostTrigger:KeyPath"] = stranger;
        }
        else
        {
            settings["HostTrigger:Port"] = TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        using var app = await StartAppAsync(settings);
        using var client = await app.CreateClientAsync(Role.Operator);

        var build = await BuildAndWaitAsync(app, client, new { });

        var port = settings["HostTrigger:Port"];
        build.GetProperty("error").GetString().Should().StartWith(how == Unreachable.KeyRefused
            ? $"The host 127.0.0.1:{port} refused the build key for user {host.Ssh.User}: add its public key with the forced command to authorized_keys ("
            : $"Cannot connect to the host trigger 127.0.0.1:{port}: ");
        await AssertEndedAsync(app, build, "not built: the build ended first");
        File.Exists(host.File("commands")).Should().BeFalse("nothing ran on the host");
        await AssertReleasesUnchangedAsync(app);

        // The orchestrator's lock is free: the next build starts (and fails the same way).
        var again = await BuildAndWaitAsync(app, client, new { });
        again.GetProperty("error").GetString().Should().Be(build.GetProperty("error").GetString());
    }

    /// <summary>
    /// The SSH connection breaks while the host builds (here its session is killed): the orchestrator cannot know how the
    /// build ends, so it fails it, keeping the log so far; the wrapper on the host goes on and holds the host's lock until
    /// it ends; then a new build runs.
    /// </summary>
    [Fact]
    public async Task A_connection_lost_mid_build_fails_the_build_keeping_its_log_and_a_new_build_runs_once_the_host_is_free()
    {
        await using var host = await StandInHost.StartAsync();
        using var app = await StartAppAsync(host.Settings());
        using var client = await app.CreateClientAsync(Role.Operator);
        await host.PrintsAsync(UnderWay);

        var id = await StartBuildAsync(client, new { });
        await WaitUntilBuildingAsync(client, id);
        await host.NextAsync("drop");
        var build = await WaitAsync(app, client, id);

        build.GetProperty("error").GetString().Should()
            .StartWith($"The connection to the host trigger 127.0.0.1:{host.Ssh.Port} broke during the build (")
            .And.EndWith(BuildService.HostMayStillRun);
        await AssertEndedAsync(app, build, "not built: the build ended first");
        (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{id}")).GetProperty("log").GetString().Should().Contain("[zwavejs] installing zwave-js-ui");
        await AssertReleasesUnchangedAsync(app);
        File.Exists(host.File("ended")).Should().BeFalse("the host's run outlives the connection");

        await host.EndRunAsync();
        await AssertNewBuildSucceedsAsync(app, client, host);
    }

    /// <summary>
    /// A build that outlives HostTrigger:BuildTimeoutMinutes is failed and its ticket voided; the orchestrator cannot stop
    /// the run on the host (sshd sends no signal to a forced command), and says so.
    /// </summary>
    [Fact]
    public async Task A_build_past_its_timeout_is_failed_saying_the_host_may_still_run_it_and_a_new_build_runs_once_the_host_is_free()
    {
        await using var host = await StandInHost.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var settings = host.Settings();
        settings["HostTrigger:BuildTimeoutMinutes"] = "10";
        using var app = await StartAppAsync(settings, time);
        using var client = await app.CreateClientAsync(Role.Operator);
        await host.PrintsAsync(UnderWay);

        var id = await StartBuildAsync(client, new { });
        await WaitUntilBuildingAsync(client, id);
        time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        var build = await WaitAsync(app, client, id);

        build.GetProperty("error").GetString().Should().Be(
            "The build did not finish within 10 minutes (HostTrigger:BuildTimeoutMinutes); the orchestrator stopped following it. " + BuildService.HostMayStillRun);
        await AssertEndedAsync(app, build, "not built: the build ended first");
        await AssertReleasesUnchangedAsync(app);

        await host.EndRunAsync();
        await AssertNewBuildSucceedsAsync(app, client, host);
    }

    /// <summary>The orchestrator stops (a service restart) during a build: the build is failed on the way out and, after the start, a new one runs.</summary>
    [Fact]
    public async Task The_orchestrator_stopping_during_a_build_fails_it_with_the_reason_and_after_a_restart_a_new_build_runs()
    {
        await using var host = await StandInHost.StartAsync();
        var data = TempDirectory.Create("build-data");
        try
        {
            long id;
            await using (var first = await StartAppAsync(host.Settings(), dataDirectory: data))
            {
                using var client = await first.CreateClientAsync(Role.Operator);
                await host.PrintsAsync(UnderWay);
                id = await StartBuildAsync(client, new { });
                await WaitUntilBuildingAsync(client, id);
            }

            using var second = await StartAppAsync(host.Settings(), dataDirectory: data);
            using var operatorClient = await second.CreateClientAsync(Role.Operator);
            var build = (await operatorClient.GetFromJsonAsync<JsonElement>($"/api/builds/{id}")).GetProperty("build");

            build.GetProperty("error").GetString().Should().Be("The orchestrator stopped during the build. " + BuildService.HostMayStillRun);
            await AssertEndedAsync(second, build, "not built: the build ended first");
            await AssertReleasesUnchangedAsync(second);

            await host.EndRunAsync();
            await AssertNewBuildSucceedsAsync(second, operatorClient, host);
        }
        finally
        {
            TempDirectory.TryDelete(data);
        }
    }

    /// <summary>
    /// The orchestrator's process is killed during a build (no chance to record anything): the next start finds the build
    /// still "running", fails it with the reason and frees the host for builds. While the host still runs the old build,
    /// a new one is refused by the host's own lock with its line; once that run ended, a new build runs.
    /// </summary>
    [Fact]
    public async Task A_build_abandoned_by_a_killed_orchestrator_is_failed_at_the_next_start_and_a_new_build_runs_once_the_host_is_free()
    {
        await using var host = await StandInHost.StartAsync();
        var data = TempDirectory.Create("build-data");
        try
        {
            string token;
            using (var setup = await StartAppAsync(host.Settings(), dataDirectory: data))
            {
                token = await setup.CreateTokenAsync(Role.Operator);
            }

            await host.PrintsAsync(UnderWay);
            long id;
            var settings = Settings(host.Settings());
            settings["Storage:DataDirectory"] = data;
            settings["Storage:ReleasesDirectory"] = _releases.Value;
            var http = new Uri($"http://127.0.0.1:{TestPorts.Free()}");
            await using (var orchestrator = await OrchestratorProcess.StartAsync(settings, http.GetLeftPart(UriPartial.Authority), http))
            {
                using var client = orchestrator.CreateClient(token);
                id = await StartBuildAsync(client, new { });
                await WaitUntilBuildingAsync(client, id);
                await orchestrator.KillAsync();
            }

            using var restarted = await StartAppAsync(host.Settings(), dataDirectory: data);
            using var operatorClient = restarted.CreateTokenClient(token);
            var build = (await operatorClient.GetFromJsonAsync<JsonElement>($"/api/builds/{id}")).GetProperty("build");

            build.GetProperty("error").GetString().Should().Be("The orchestrator restarted while this build ran, so its outcome is unknown here. " + BuildService.HostMayStillRun);
            await AssertEndedAsync(restarted, build, "unknown: the orchestrator restarted before the host reported it");
            await AssertReleasesUnchangedAsync(restarted);
            restarted.Logs.Lines.Should().Contain(l => l.Contains("Marked 1 build(s) left running by a previous start as failed", StringComparison.Ordinal));

            // The host still runs the old build and holds its lock: the host refuses the next one, with its own line.
            var busy = await BuildAndWaitAsync(restarted, operatorClient, new { });
            busy.GetProperty("error").GetString().Should().Be("another build is running on this host; try again when it has finished");
            await AssertReleasesUnchangedAsync(restarted);

            await host.EndRunAsync();
            await AssertNewBuildSucceedsAsync(restarted, operatorClient, host);
        }
        finally
        {
            TempDirectory.TryDelete(data);
        }
    }

    /// <summary>
    /// Proxmox answers 503 to one step of a template's build on the host (the real wrapper; pct acts on the emulator):
    /// that template fails naming the step (Proxmox's answer is in the log), the container the build proved its own is
    /// removed and the ledger forgets it (the VMID is free for the next build), the active release stays.
    /// </summary>
    [Fact]
    public async Task Proxmox_failing_a_step_mid_build_fails_that_template_naming_the_step_removes_its_container_and_keeps_the_active_release()
    {
        const string manifest = $$"""
            release: "{{BuildHost.Release}}"
            community_scripts_ref: "{{BuildHost.Ref}}"
            community_scripts_commit: "{commit}"
            proxmox_min_version: "8.2"
            templates:
              zwavejs:
                kind: lxc
                builder: ct/zwave-js-ui.sh
                vmid: 9101
                resources: { cpu: 1, ram: 512, disk: 4 }
            """;
        await using var host = await BuildHost.StartAsync(manifest);
        await ActivatePreviousAsync(host.App);
        using var client = await host.ClientAsync(Role.Operator);
        host.Sim.Faults.Settings = new FaultSettings { ServerErrorRate = 1, ServerErrorStatus = 503, ServerErrorMessage = "Service Unavailable", PathPattern = "/lxc/9101/template$" };

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        const string reason = "pct template 9101 failed with exit code 255 (see the log)";
        build.GetProperty("state").GetString().Should().Be("failed", BuildPipelineTests.Describe(build, host));
        build.GetProperty("error").GetString().Should().Be($"1 of 1 template(s) failed: zwavejs: {reason}");
        var log = (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{build.GetProperty("id").GetInt64()}")).GetProperty("log").GetString()!;
        log.Split('\n').Should().Contain("Service Unavailable", "Proxmox's answer is in the log");
        host.Guest(9101).Should().BeNull("the container this build proved its own is removed");
        (await File.ReadAllTextAsync(Path.Combine(host.Directory, "work", "created.tsv"))).Should().BeEmpty("the ledger forgets what was removed");
        await AssertReleasesUnchangedAsync(host.App);
        (await BuildPipelineTests.ReleaseTemplatesAsync(client))["zwavejs"].GetProperty("reason").GetString()
            .Should().Be($"build {build.GetProperty("id").GetInt64()} failed: {reason}");
    }

    private readonly Lazy<string> _releases = new(ActivationManifest.CreateReleasesDirectory);

    public void Dispose()
    {
        if (_releases.IsValueCreated)
        {
            TempDirectory.TryDelete(_releases.Value);
        }
    }

    private Dictionary<string, string?> Settings(Dictionary<string, string?> hostSettings)
    {
        var settings = ProvisionerApp.ProxmoxSettings(emulator.Pve);
        foreach (var (key, value) in hostSettings)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>The orchestrator with the release 2026.07 to build, <see cref="Previous"/> active with one template.</summary>
    private async Task<ProvisionerApp> StartAppAsync(Dictionary<string, string?> hostSettings, TimeProvider? time = null, string? dataDirectory = null)
    {
        var app = new ProvisionerApp(_releases.Value, Settings(hostSettings), time: time, dataDirectory: dataDirectory);
        await app.EnsureSetUpAsync();
        if (await app.Service<ReleaseRepository>().GetActiveNameAsync() is null)
        {
            await ActivatePreviousAsync(app);
        }

        return app;
    }

    private static async Task ActivatePreviousAsync(ProvisionerApp app)
    {
        var now = DateTimeOffset.UtcNow;
        await app.Service<ReleaseRepository>().ActivateAsync(Previous, "2026-05-01", null,
            [new TemplateRow(0, Previous, "zwavejs", "lxc", 9001, "pve1", "2026-05-01", null, null, now)], now, CancellationToken.None);
    }

    /// <summary>The active release is still <see cref="Previous"/> with its template; the release being built has none.</summary>
    private static async Task AssertReleasesUnchangedAsync(ProvisionerApp app)
    {
        var releases = app.Service<ReleaseRepository>();
        (await releases.GetActiveNameAsync()).Should().Be(Previous);
        (await releases.ListTemplatesAsync(Previous)).Select(t => (t.Name, t.Vmid)).Should().Equal(("zwavejs", 9001L));
        (await releases.ListTemplatesAsync(Release)).Should().BeEmpty();
    }

    /// <summary>The build is failed, finished, its ticket gone; its templates have a verdict; no build holds the host.</summary>
    private static async Task AssertEndedAsync(ProvisionerApp app, JsonElement build, string templateError)
    {
        build.GetProperty("state").GetString().Should().Be("failed", build.ToString());
        build.GetProperty("finishedAt").ValueKind.Should().Be(JsonValueKind.String);
        build.GetProperty("templates").EnumerateArray().Select(t => (t.GetProperty("state").GetString(), t.GetProperty("error").GetString()))
            .Should().AllBeEquivalentTo(("failed", templateError), build.ToString());
        await using (var connection = await app.Service<Database>().OpenAsync())
        {
            (await connection.ExecuteScalarAsync<string?>("SELECT ticket_hash FROM builds WHERE id = @id;", new { id = build.GetProperty("id").GetInt64() }))
                .Should().BeNull("the ticket dies with its build");
        }

        using var viewer = await app.CreateClientAsync(Role.Viewer);
        (await viewer.GetFromJsonAsync<JsonElement>("/api/builds/trigger")).GetProperty("running").ValueKind.Should().Be(JsonValueKind.Null);
    }

    /// <summary>A build of zwavejs alone, on a host that is free again, succeeds and makes the release active.</summary>
    private static async Task AssertNewBuildSucceedsAsync(ProvisionerApp app, HttpClient client, StandInHost host)
    {
        await host.PrintsAsync(ZwavejsBuilt);
        await host.ExitsAsync(0);
        var build = await BuildAndWaitAsync(app, client, new { templates = new[] { "zwavejs" } });
        build.GetProperty("state").GetString().Should().Be("succeeded", build.ToString());
        (await app.Service<ReleaseRepository>().GetActiveNameAsync()).Should().Be(Release);
    }

    private static async Task<long> StartBuildAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync($"/api/releases/{Release}/build", body);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static async Task<JsonElement> BuildAndWaitAsync(ProvisionerApp app, HttpClient client, object body) =>
        await WaitAsync(app, client, await StartBuildAsync(client, body));

    private static async Task<JsonElement> WaitAsync(ProvisionerApp app, HttpClient client, long id)
    {
        await app.Service<BuildService>().WaitAsync(id).WaitAsync(TimeSpan.FromMinutes(1));
        return (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{id}")).GetProperty("build");
    }

    /// <summary>Until the orchestrator shows zwavejs being built (the host's lines arrived and were recorded).</summary>
    private static Task WaitUntilBuildingAsync(HttpClient client, long id) => Eventually.TrueAsync(async () =>
        (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{id}")).GetProperty("build").GetProperty("templates").EnumerateArray()
            .Any(t => t.GetProperty("name").GetString() == "zwavejs" && t.GetProperty("state").GetString() == "running"), $"build {id} building zwavejs");
}

/// <summary>
/// A Proxmox host's build trigger: a real sshd whose forced command is a stand-in for ctrlable-build. Like the wrapper it
/// takes the host's build lock (another run holds it: its line on stderr, exit 75), prints what the test gave it
/// (<see cref="PrintsAsync"/>) and then either exits (<see cref="ExitsAsync"/>) or goes on "building" until told:
/// <c>exit N</c>, or <c>drop</c> (it kills its own SSH session, so the connection is lost, and goes on, as the
/// wrapper does, holding the lock). It never reads the ticket's plan or secret.
/// </summary>
internal sealed class StandInHost : IAsyncDisposable
{
    private const string Script = """
        #!/bin/bash
        set -euo pipefail
        dir=$1
        IFS= read -r _ || true
        printf '%s\n' "${SSH_ORIGINAL_COMMAND-}" >>"$dir/commands"
        exec 9>>"$dir/lock"
        if ! flock -n 9; then
          echo "ctrlable-build: another build is running on this host; try again when it has finished" >&2
          exit 75
        fi
        trap 'echo TERM >>"$dir/signals"; exit 143' TERM
        trap ': >"$dir/ended"' EXIT
        cat "$dir/stdout"
        read -r action code <"$dir/then" || true
        if [[ $action == exit ]]; then exit "$code"; fi
        : >"$dir/running"
        while [[ -d $dir ]]; do
          if [[ -e $dir/next ]]; then
            read -r action code <"$dir/next" || true
            rm -f "$dir/next"
            case $action in
              exit) exit "$code" ;;
              drop)
                # The SSH connection is lost: every sshd process of this session goes (not the listener).
                pid=$PPID
                while [[ $(cat "/proc/$pid/comm") == sshd* ]]; do
                  parent=$(awk '{ print $4 }' "/proc/$pid/stat")
                  [[ $(cat "/proc/$parent/comm") == sshd* ]] || break
                  kill -9 "$pid"
                  pid=$parent
                done
                ;;
            esac
          fi
          sleep 0.02
        done
        exit 1
        """;

    private StandInHost(string directory, SshServer ssh)
    {
        Directory = directory;
        Ssh = ssh;
    }

    public string Directory { get; }
    public SshServer Ssh { get; }

    public static async Task<StandInHost> StartAsync()
    {
        var dir = TempDirectory.Create("standin-host");
        var script = Path.Combine(dir, "ctrlable-build");
        await System.IO.File.WriteAllTextAsync(script, Script.ReplaceLineEndings("\n") + "\n");
        System.IO.File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
        await System.IO.File.WriteAllTextAsync(Path.Combine(dir, "stdout"), "");
        await System.IO.File.WriteAllTextAsync(Path.Combine(dir, "then"), "wait\n");
        return new StandInHost(dir, await SshServer.StartAsync($"{script} {dir}"));
    }

    public string File(string name) => Path.Combine(Directory, name);

    /// <summary>The orchestrator's settings for this host.</summary>
    public Dictionary<string, string?> Settings() => new()
    {
        ["HostTrigger:Host"] = "127.0.0.1",
        ["HostTrigger:Port"] = Ssh.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["HostTrigger:User"] = Ssh.User,
        ["HostTrigger:KeyPath"] = Ssh.ClientKeyPath,
        ["HostTrigger:HostKeyFingerprint"] = Ssh.HostKeyFingerprint,
    };

    /// <summary>What the next run prints on standard output.</summary>
    public Task PrintsAsync(params string[] lines) => System.IO.File.WriteAllTextAsync(File("stdout"), string.Concat(lines.Select(l => l + "\n")));

    /// <summary>The next run exits with <paramref name="code"/> right after printing.</summary>
    public Task ExitsAsync(int code) => System.IO.File.WriteAllTextAsync(File("then"), $"exit {code}\n");

    /// <summary>Tells the run under way what to do next (<c>exit N</c>, <c>drop</c>), once it is under way.</summary>
    public async Task NextAsync(string command)
    {
        await Eventually.TrueAsync(() => System.IO.File.Exists(File("running")), "the host's run");
        await System.IO.File.WriteAllTextAsync(File("next.tmp"), command + "\n");
        System.IO.File.Move(File("next.tmp"), File("next"));
    }

    /// <summary>The run under way ends (exit 0) and releases the host's lock.</summary>
    public async Task EndRunAsync()
    {
        await NextAsync("exit 0");
        await Eventually.TrueAsync(() => System.IO.File.Exists(File("ended")), "the host's run to end");
        System.IO.File.Delete(File("running"));
    }

    public ValueTask DisposeAsync()
    {
        Ssh.Dispose();
        // A run still polling stops once its directory is gone.
        TempDirectory.TryDelete(Directory);
        return ValueTask.CompletedTask;
    }
}
