using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using YamlDotNet.RepresentationModel;

namespace Ctrlable.Provisioner.Tests.Provision;

/// <summary>
/// The real host/firstboot/ctrlable-firstboot.sh in a sandbox root (what a clone of each template holds), against the
/// orchestrator running over TLS, with curl bound to the guest's address. Guests are deployed as the pipeline does.
/// Needs bash, curl, jq and shellcheck (scripts/test.sh installs them).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FirstBootScriptTests(FirstBootScriptTests.Fixture fixture) : IClassFixture<FirstBootScriptTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        internal FirstBootHarness Harness { get; private set; } = null!;

        public async Task InitializeAsync() => Harness = await FirstBootHarness.StartAsync();

        public async Task DisposeAsync() => await Harness.DisposeAsync();
    }

    private static readonly string[] KeyTypes = ["rsa", "ecdsa", "ed25519"];

    private FirstBootHarness H => fixture.Harness;

    [Theory]
    [InlineData(TemplateTypes.Zigbee2Mqtt)]
    [InlineData(TemplateTypes.ZwaveJs)]
    [InlineData(TemplateTypes.Frigate)]
    [InlineData(TemplateTypes.DockerPortainer)]
    [InlineData(TemplateTypes.FreePbx)]
    public async Task A_clone_becomes_a_unique_wired_appliance_and_a_second_run_changes_nothing(string type)
    {
        var (guest, sandbox, address) = await PrepareAsync(type);
        var templateKeys = KeyTypes.ToDictionary(t => t, t => File.ReadAllText(sandbox.PathOf($"/etc/ssh/ssh_host_{t}_key")));

        // firstboot.env names the orchestrator's key as curl pins it: no openssl (nor a timeout wrapper) runs.
        var run = await RunAsync(sandbox, address, new() { ["OPENSSL"] = "/nonexistent/openssl", ["TIMEOUT"] = "/nonexistent/timeout" });

        run.Status.Should().Be(0, run.Output);
        // Identity: a new machine id, every SSH host key new.
        var machineId = File.ReadAllText(sandbox.PathOf("/etc/machine-id")).Trim();
        machineId.Should().MatchRegex("^[0-9a-f]{32}$").And.NotBe(SimulatedGuest.TemplateMachineId(FirstBootHarness.Templates[type]));
        new FileInfo(sandbox.PathOf("/var/lib/dbus/machine-id")).LinkTarget.Should().Be("/etc/machine-id");
        foreach (var keyType in KeyTypes)
        {
            File.ReadAllText(sandbox.PathOf($"/etc/ssh/ssh_host_{keyType}_key")).Should().NotBe(templateKeys[keyType], keyType);
            File.ReadAllText(sandbox.PathOf($"/etc/ssh/ssh_host_{keyType}_key.pub")).Should().NotContain("template", keyType);
        }

        // The app's configuration holds the assignment and keeps the rest.
        var assignment = (await H.App.Service<AssignmentService>().GetAsync(guest.Id, CancellationToken.None))!;
        await AssertConfigurationAsync(type, sandbox, assignment);

        // Complete was called, the service is disabled, nothing secret is left in /run or printed.
        var instance = await H.InstanceAsync(guest.Id);
        instance.State.Should().Be(InstanceStates.Active, run.Output);
        var versions = JsonSerializer.Deserialize<Dictionary<string, string>>(instance.InstalledVersions!)!;
        versions.Should().Contain("firstboot", "4").And.Contain("debian", "12.11");
        if (type == TemplateTypes.Zigbee2Mqtt)
        {
            versions.Should().Contain("zigbee2mqtt", "2.6.3", "read from package.json");
        }
        File.Exists(sandbox.PathOf($"/etc/systemd/system/multi-user.target.wants/{SimulatedGuestImage.UnitName}")).Should().BeFalse();
        File.Exists(sandbox.PathOf("/var/lib/ctrlable/firstboot/done")).Should().BeTrue();
        Calls(sandbox).Should().Contain($"systemctl disable {SimulatedGuestImage.UnitName}");
        Directory.Exists(sandbox.PathOf("/run/ctrlable-firstboot")).Should().BeFalse();
        foreach (var secret in SecretsOf(assignment).Append(H.ReleaseSecret))
        {
            run.Output.Should().NotContain(secret);
            File.ReadAllText(Path.Combine(sandbox.Log, "calls.log")).Should().NotContain(secret);
        }

        // The release secret and the instance credential (64 hex digits each) were never printed; the secret is gone now,
        // the credential stays for the guest's timers: every guest's upgrade timer, and the broker's where it follows one.
        AssertSecretsForgotten(sandbox, follows: true);
        (await File.ReadAllTextAsync(sandbox.PathOf("/etc/systemd/system/ctrlable-upgrade.timer"))).Should().Contain("OnUnitActiveSec=2min");
        (await File.ReadAllTextAsync(sandbox.PathOf("/etc/systemd/system/ctrlable-upgrade.service"))).Should().Contain("ExecStart=/usr/local/sbin/ctrlable-firstboot --upgrade");
        FileMode(sandbox.PathOf("/etc/systemd/system/ctrlable-upgrade.timer")).Should().Be(UnitFileMode);
        FileMode(sandbox.PathOf("/etc/systemd/system/ctrlable-upgrade.service")).Should().Be(UnitFileMode);
        var pin = H.App.Service<Provisioner.Tls.TlsCertificate>().PublicKeyPin;
        (await File.ReadAllTextAsync(sandbox.PathOf("/etc/ctrlable/follow.env"))).Should().Contain($"CTRLABLE_ORCHESTRATOR_PUBKEY={pin}\n", "the timers pin the key without openssl too");
        // One systemctl call enables and starts the timers (enable reloads systemd itself).
        Calls(sandbox).Should().Contain(FollowsBroker(type)
            ? "systemctl enable --now ctrlable-upgrade.timer ctrlable-broker-follow.timer"
            : "systemctl enable --now ctrlable-upgrade.timer");
        File.Exists(sandbox.PathOf("/etc/systemd/system/multi-user.target.wants/ctrlable-upgrade.timer")).Should().BeTrue();
        var timer = sandbox.PathOf("/etc/systemd/system/ctrlable-broker-follow.timer");
        File.Exists(timer).Should().Be(FollowsBroker(type));
        if (FollowsBroker(type))
        {
            (await File.ReadAllTextAsync(timer)).Should().Contain("OnUnitActiveSec=5min");
            (await File.ReadAllTextAsync(sandbox.PathOf("/etc/systemd/system/ctrlable-broker-follow.service"))).Should().Contain("ExecStart=/usr/local/sbin/ctrlable-firstboot --follow-broker");
            File.Exists(sandbox.PathOf("/etc/systemd/system/multi-user.target.wants/ctrlable-broker-follow.timer")).Should().BeTrue();
            FileMode(timer).Should().Be(UnitFileMode);
            var follow = await File.ReadAllTextAsync(sandbox.PathOf("/etc/ctrlable/follow.env"));
            follow.Should().Contain("CTRLABLE_ORCHESTRATOR_FINGERPRINT=").And.NotContain(H.ReleaseSecret);
            FileMode(sandbox.PathOf("/etc/ctrlable/follow.env")).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        run.Output.Should().NotMatchRegex("[0-9a-f]{64}");
        File.ReadAllText(Path.Combine(sandbox.Log, "calls.log")).Should().NotMatchRegex("[0-9a-f]{64}");

        // A second run changes nothing and calls nothing.
        var before = Snapshot(sandbox);
        var second = await RunAsync(sandbox, address);
        second.Status.Should().Be(0, second.Output);
        second.Stdout.Should().Contain("nothing to do");
        Snapshot(sandbox).Should().Equal(before);
        (await H.InstanceAsync(guest.Id)).CompletedAt.Should().Be(instance.CompletedAt);
    }

    [Fact]
    public async Task A_zigbee2mqtt_1x_configuration_with_user_settings_keeps_them()
    {
        var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Zigbee2Mqtt);
        var config = sandbox.PathOf("/opt/zigbee2mqtt/data/configuration.yaml");
        await File.WriteAllTextAsync(config, """
            homeassistant: false
            permit_join: false
            mqtt:
              base_topic: zigbee2mqtt
              server: 'mqtt://localhost'
            serial:
              port: /dev/ttyACM0
            advanced:
              log_level: debug
              network_key:
                - 1
                - 2
                - 3
              pan_id: 6754
            devices:
              '0x00158d0001':
                friendly_name: hall lamp

            """);

        var run = await RunAsync(sandbox, address);

        run.Status.Should().Be(0, run.Output);
        var root = Yaml(config);
        var assignment = (await H.App.Service<AssignmentService>().GetAsync(guest.Id, CancellationToken.None))!;
        Scalar(root, "homeassistant", "enabled").Should().Be("true");
        Scalar(root, "permit_join").Should().Be("false");
        Scalar(root, "advanced", "log_level").Should().Be("debug");
        Sequence(root, "advanced", "network_key").Should().Equal(assignment.Zigbee!.NetworkKey.Select(b => b.ToString(CultureInfo.InvariantCulture)));
        Scalar(root, "advanced", "pan_id").Should().Be(assignment.Zigbee.PanId.ToString(CultureInfo.InvariantCulture));
        Scalar(root, "devices", "0x00158d0001", "friendly_name").Should().Be("hall lamp");
        Scalar(root, "serial", "port").Should().Be("tcp://192.168.1.60:6638");
    }

    [Fact]
    public async Task With_the_orchestrator_down_it_retries_then_fails_with_one_clear_line_and_the_next_run_finishes()
    {
        var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.ZwaveJs);
        var env = sandbox.PathOf(FirstBootEnvironment.GuestPath);
        var original = await File.ReadAllTextAsync(env);
        var closedPort = TestPorts.Free();
        await File.WriteAllTextAsync(env, original.Replace(H.App.HttpsAddress.GetLeftPart(UriPartial.Authority), $"https://127.0.0.1:{closedPort}", StringComparison.Ordinal));

        var down = await RunAsync(sandbox, address, new() { ["FIRSTBOOT_ATTEMPTS"] = "3" });

        down.Status.Should().Be(1);
        var lines = down.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(3, "one line per failed attempt: " + down.Stderr);
        lines[0].Should().StartWith("ctrlable-firstboot: configure: attempt 1 of 3 failed (connection refused or no route); next in", "curl's own error: no openssl handshake comes first");
        lines[^1].Should().Be($"ctrlable-firstboot: configure: no answer from the orchestrator at https://127.0.0.1:{closedPort} after 3 attempts (last: connection refused or no route)");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting);
        File.Exists(sandbox.PathOf($"/etc/systemd/system/multi-user.target.wants/{SimulatedGuestImage.UnitName}")).Should().BeTrue("it runs again");

        await File.WriteAllTextAsync(env, original);
        var up = await RunAsync(sandbox, address);

        up.Status.Should().Be(0, up.Output);
        up.Stdout.Should().NotContain("machine-id:", "the identity steps were done in the first run");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Active);
    }

    [Fact]
    public async Task An_orchestrator_that_does_not_present_the_pinned_public_key_gets_no_request()
    {
        var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Frigate);
        var env = sandbox.PathOf(FirstBootEnvironment.GuestPath);
        var pin = H.App.Service<Provisioner.Tls.TlsCertificate>().PublicKeyPin;
        var other = "sha256//" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes("another key")));
        var text = await File.ReadAllTextAsync(env);
        await File.WriteAllTextAsync(env, text.Replace(pin, other, StringComparison.Ordinal));

        var run = await RunAsync(sandbox, address);

        run.Status.Should().Be(1);
        run.Stderr.Trim().Should().Be($"ctrlable-firstboot: configure: {H.App.HttpsAddress.GetLeftPart(UriPartial.Authority)} does not present the pinned public key {other}: refusing to send anything (the template was built for another orchestrator, or its key changed)");
        run.Stderr.Trim().Split('\n').Should().ContainSingle();
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting, "curl aborts in the handshake, before it sends anything");
    }

    /// <summary>A template built before firstboot.env named the key: the certificate's fingerprint is checked first (openssl).</summary>
    [Fact]
    public async Task An_older_template_pins_by_the_certificate_s_fingerprint_and_finishes()
    {
        var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Zigbee2Mqtt);
        var env = sandbox.PathOf(FirstBootEnvironment.GuestPath);
        await File.WriteAllLinesAsync(env, (await File.ReadAllLinesAsync(env)).Where(l => !l.StartsWith("CTRLABLE_ORCHESTRATOR_PUBKEY=", StringComparison.Ordinal)));

        var run = await RunAsync(sandbox, address);

        run.Status.Should().Be(0, run.Output);
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Active);
        (await File.ReadAllTextAsync(sandbox.PathOf("/etc/ctrlable/follow.env"))).Should().NotContain("CTRLABLE_ORCHESTRATOR_PUBKEY");
    }

    [Fact]
    public async Task An_older_template_s_orchestrator_that_does_not_present_the_pinned_certificate_gets_no_request()
    {
        var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Frigate);
        var env = sandbox.PathOf(FirstBootEnvironment.GuestPath);
        var fingerprint = H.App.Service<Provisioner.Tls.TlsCertificate>().Fingerprint;
        var other = string.Join(':', SHA256.HashData(Encoding.UTF8.GetBytes("another certificate")).Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
        var text = await File.ReadAllTextAsync(env);
        await File.WriteAllLinesAsync(env, text.Replace(fingerprint, other, StringComparison.Ordinal).Split('\n')
            .Where(l => !l.StartsWith("CTRLABLE_ORCHESTRATOR_PUBKEY=", StringComparison.Ordinal)));

        var run = await RunAsync(sandbox, address);

        run.Status.Should().Be(1);
        run.Stderr.Trim().Should().Be($"ctrlable-firstboot: configure: {H.App.HttpsAddress.GetLeftPart(UriPartial.Authority)} presents certificate {fingerprint}, not the pinned {other}: the template was built for another orchestrator, or its certificate changed");
        run.Stderr.Trim().Split('\n').Should().ContainSingle();
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting, "curl aborts before it sends anything");
    }

    /// <summary>A power cut at each point of the run; the next run (the next boot) finishes correctly.</summary>
    /// <summary>
    /// Under DHCP the site's Home Assistant (the guests' MQTT broker) may get another address. After its first boot a
    /// zigbee2mqtt or frigate guest asks the orchestrator where its broker is (its timer runs
    /// <c>ctrlable-firstboot --follow-broker</c>) and rewrites its app's MQTT server and restarts the app only when that moved.
    /// </summary>
    [Theory]
    [InlineData(TemplateTypes.Zigbee2Mqtt)]
    [InlineData(TemplateTypes.Frigate)]
    public async Task After_its_first_boot_a_guest_follows_its_MQTT_broker_to_Home_Assistant_s_new_address(string type)
    {
        var (guest, sandbox, address) = await PrepareAsync(type);
        (await RunAsync(sandbox, address)).Status.Should().Be(0);
        var credential = (await File.ReadAllTextAsync(sandbox.PathOf(SimulatedGuestImage.CredentialPath))).Trim();
        await SetHomeAssistantAsync("127.0.10.151");

        var moved = await RunAsync(sandbox, address, arguments: ["--follow-broker"]);

        moved.Status.Should().Be(0, moved.Output);
        moved.Stdout.Should().Contain("follow-broker: the MQTT broker moved to 127.0.10.151:1883");
        BrokerOf(type, sandbox).Should().Be("127.0.10.151");
        var unit = type == TemplateTypes.Zigbee2Mqtt ? "zigbee2mqtt.service" : "frigate.service";
        bool Restart(string call) => call.StartsWith("systemctl restart ", StringComparison.Ordinal) && call.Split(' ').Contains(unit);
        Calls(sandbox).Where(Restart).Should().HaveCount(2, "the first boot restarted the app once, following the broker once more");
        Calls(sandbox).Last().Should().Be($"systemctl restart {unit}");
        await AssertKeptAsync(type, sandbox, guest);

        // Nothing moved: nothing is written, nothing restarted.
        var before = Snapshot(sandbox).Where(f => !f.Contains("calls.log", StringComparison.Ordinal)).ToList();
        var still = await RunAsync(sandbox, address, arguments: ["--follow-broker"]);
        still.Status.Should().Be(0, still.Output);
        still.Stdout.Should().Contain("still at 127.0.10.151:1883");
        Snapshot(sandbox).Where(f => !f.Contains("calls.log", StringComparison.Ordinal)).Should().Equal(before);
        Calls(sandbox).Where(Restart).Should().HaveCount(2);

        await SetHomeAssistantAsync("127.0.10.152");
        var again = await RunAsync(sandbox, address, arguments: ["--follow-broker"]);
        again.Status.Should().Be(0, again.Output);
        BrokerOf(type, sandbox).Should().Be("127.0.10.152");
        foreach (var run in new[] { moved, still, again })
        {
            run.Output.Should().NotContain(credential);
        }

        File.ReadAllText(Path.Combine(sandbox.Log, "calls.log")).Should().NotContain(credential);
    }

    [Fact]
    public async Task Following_the_broker_is_refused_without_the_credential_or_from_another_address_and_changes_nothing()
    {
        var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Zigbee2Mqtt);
        (await RunAsync(sandbox, address)).Status.Should().Be(0);
        await SetHomeAssistantAsync("127.0.10.153");
        var before = Snapshot(sandbox).Where(f => !f.Contains("calls.log", StringComparison.Ordinal)).ToList();

        var elsewhere = await RunAsync(sandbox, IPAddress.Parse("127.0.10.254"), new() { ["FOLLOW_ATTEMPTS"] = "1" }, ["--follow-broker"]);

        elsewhere.Status.Should().Be(1, elsewhere.Output);
        elsewhere.Stderr.Trim().Should().StartWith("ctrlable-firstboot: follow-broker: the orchestrator did not say where the broker is (HTTP 403: Not the guest's address");
        File.Copy(sandbox.PathOf(SimulatedGuestImage.CredentialPath), Path.Combine(sandbox.Directory, "credential.saved"));
        File.Delete(sandbox.PathOf(SimulatedGuestImage.CredentialPath));
        var lost = await RunAsync(sandbox, address, arguments: ["--follow-broker"]);
        lost.Status.Should().Be(1, lost.Output);
        lost.Stderr.Trim().Should().Be($"ctrlable-firstboot: follow-broker: {sandbox.PathOf(SimulatedGuestImage.CredentialPath)} is missing: this guest cannot ask for its broker (redeploy the instance)");
        File.Move(Path.Combine(sandbox.Directory, "credential.saved"), sandbox.PathOf(SimulatedGuestImage.CredentialPath));
        Snapshot(sandbox).Where(f => !f.Contains("calls.log", StringComparison.Ordinal) && !f.Contains("credential", StringComparison.Ordinal))
            .Should().Equal(before.Where(f => !f.Contains("credential", StringComparison.Ordinal)));
        // Where the deploy found the site's broker: its name, or the address of a Home Assistant an earlier test of the class made.
        var assigned = (await H.App.Service<AssignmentService>().GetAsync(guest.Id, CancellationToken.None))!.Mqtt!.Host;
        BrokerOf(TemplateTypes.Zigbee2Mqtt, sandbox).Should().Be(assigned, "the assignment's broker stays until a look succeeds").And.NotBe("127.0.10.153");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Active);
    }

    [Fact]
    public async Task The_first_boot_scripts_pass_shellcheck()
    {
        var scripts = Directory.GetFiles(FirstBootHarness.ScriptDirectory, "*.sh", SearchOption.AllDirectories);
        var start = new ProcessStartInfo("shellcheck") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = FirstBootHarness.ScriptDirectory };
        start.ArgumentList.Add("-x");
        foreach (var script in scripts)
        {
            start.ArgumentList.Add(Path.GetRelativePath(FirstBootHarness.ScriptDirectory, script));
        }

        var run = await ChildProcess.RunAsync(start);

        scripts.Should().HaveCountGreaterThanOrEqualTo(2);
        run.ExitCode.Should().Be(0, run.Stdout + run.Stderr);
    }

    /// <summary>
    /// firstboot.env (the release secret) is gone; the instance credential too after a failed first boot — after a
    /// finished one every guest keeps it, 0600, for its timers (upgrades, and the broker where it follows one); template.env stays.
    /// </summary>
    private static void AssertSecretsForgotten(SimulatedGuest sandbox, bool follows)
    {
        File.Exists(sandbox.PathOf(FirstBootEnvironment.GuestPath)).Should().BeFalse();
        File.Exists(sandbox.PathOf(SimulatedGuestImage.CredentialPath)).Should().Be(follows);
        if (follows)
        {
            FileMode(sandbox.PathOf(SimulatedGuestImage.CredentialPath)).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Exists(sandbox.PathOf(SimulatedGuestImage.TemplateEnvPath)).Should().BeTrue();
    }

    private static bool FollowsBroker(string type) => type is TemplateTypes.Zigbee2Mqtt or TemplateTypes.Frigate;

    private static async Task AssertConfigurationAsync(string type, SimulatedGuest sandbox, Assignment assignment)
    {
        switch (type)
        {
            case TemplateTypes.Zigbee2Mqtt:
                var path = sandbox.PathOf("/opt/zigbee2mqtt/data/configuration.yaml");
                var text = await File.ReadAllTextAsync(path);
                var z2m = Yaml(path);
                Scalar(z2m, "mqtt", "server").Should().Be(assignment.Mqtt!.Server);
                Scalar(z2m, "mqtt", "user").Should().Be(assignment.Mqtt.User);
                Scalar(z2m, "mqtt", "password").Should().Be(assignment.Mqtt.Password);
                Scalar(z2m, "mqtt", "base_topic").Should().Be(assignment.Mqtt.BaseTopic);
                Scalar(z2m, "serial", "port").Should().Be(assignment.Zigbee!.Port);
                Scalar(z2m, "serial", "adapter").Should().Be("ember");
                Sequence(z2m, "advanced", "network_key").Should().Equal(assignment.Zigbee.NetworkKey.Select(b => b.ToString(CultureInfo.InvariantCulture)));
                Scalar(z2m, "advanced", "pan_id").Should().Be(assignment.Zigbee.PanId.ToString(CultureInfo.InvariantCulture));
                Sequence(z2m, "advanced", "ext_pan_id").Should().Equal(assignment.Zigbee.ExtPanId.Select(b => b.ToString(CultureInfo.InvariantCulture)));
                Scalar(z2m, "homeassistant", "enabled").Should().Be("true");
                // Not the assignment's: kept, comments included.
                Scalar(z2m, "version").Should().Be("4");
                Scalar(z2m, "frontend", "enabled").Should().Be("true");
                text.Should().Contain("# Let Zigbee2MQTT generate a network key on first start").And.Contain("# availability:");
                FileMode(path).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
                break;
            case TemplateTypes.ZwaveJs:
                var settings = JsonDocument.Parse(await File.ReadAllTextAsync(sandbox.PathOf("/opt/zwave_store/settings.json"))).RootElement;
                var zwave = settings.GetProperty("zwave");
                zwave.GetProperty("port").GetString().Should().Be(assignment.Zwave!.Port);
                zwave.GetProperty("serverEnabled").GetBoolean().Should().BeTrue();
                zwave.GetProperty("serverPort").GetInt32().Should().Be(3000);
                zwave.GetProperty("securityKeys").Deserialize<Dictionary<string, string>>().Should().Equal(assignment.Zwave.SecurityKeys);
                zwave.GetProperty("securityKeysLongRange").Deserialize<Dictionary<string, string>>().Should().Equal(assignment.Zwave.SecurityKeysLongRange);
                zwave.GetProperty("commandsTimeout").GetInt32().Should().Be(30);
                settings.GetProperty("mqtt").GetProperty("name").GetString().Should().Be("zwave-js-ui");
                settings.GetProperty("ui").GetProperty("darkMode").GetBoolean().Should().BeFalse();
                break;
            case TemplateTypes.Frigate:
                var frigate = Yaml(sandbox.PathOf("/config/config.yml"));
                Scalar(frigate, "mqtt", "enabled").Should().Be("true");
                Scalar(frigate, "mqtt", "host").Should().Be(assignment.Mqtt!.Host);
                Scalar(frigate, "mqtt", "port").Should().Be("1883");
                Scalar(frigate, "mqtt", "user").Should().Be(assignment.Mqtt.User);
                Scalar(frigate, "mqtt", "password").Should().Be(assignment.Mqtt.Password);
                Scalar(frigate, "mqtt", "client_id").Should().Be(assignment.Mqtt.ClientId);
                Scalar(frigate, "mqtt", "topic_prefix").Should().Be("frigate");
                var cameras = (YamlMappingNode)frigate.Children[new YamlScalarNode("cameras")];
                cameras.Children.Keys.Select(k => k.ToString()).Should().Equal("front_door", "garage");
                Scalar(frigate, "cameras", "front_door", "ffmpeg", "inputs", "0", "path").Should().Be(FirstBootHarness.Settings.Cameras[0].StreamUrl);
                Scalar(frigate, "auth", "enabled").Should().Be("false");
                Scalar(frigate, "model", "path").Should().Be("/models/cpu_model.tflite");
                Scalar(frigate, "ffmpeg", "hwaccel_args").Should().Be("auto");
                break;
            case TemplateTypes.DockerPortainer:
                var passwordFile = sandbox.PathOf("/etc/ctrlable/portainer/admin_password");
                (await File.ReadAllTextAsync(passwordFile)).Should().Be(assignment.Portainer!.Password);
                FileMode(passwordFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
                var container = await File.ReadAllLinesAsync(Path.Combine(sandbox.State, "docker", "containers", "portainer"));
                container[0].Should().Be("portainer/portainer-ce:latest");
                container[1].Should().Be("--admin-password-file /run/secrets/portainer_admin_password");
                Calls(sandbox).Should().Contain("docker volume rm portainer_data").And.Contain(c => c.StartsWith("docker run -d", StringComparison.Ordinal)
                    && c.Contains("-v /etc/ctrlable/portainer/admin_password:/run/secrets/portainer_admin_password:ro", StringComparison.Ordinal));
                (await File.ReadAllTextAsync(sandbox.PathOf("/etc/docker/daemon.json"))).Should().Contain("journald");
                break;
            case TemplateTypes.FreePbx:
                var sql = await File.ReadAllTextAsync(Path.Combine(sandbox.Log, "mysql.sql"));
                var hash = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(assignment.FreePbx!.Password)));
                sql.Should().Contain($"VALUES ('admin', '{hash}'").And.NotContain(assignment.FreePbx.Password);
                Calls(sandbox).Should().Contain("mysql asterisk");
                break;
        }
    }

    private Task<(TestGuest Guest, SimulatedGuest Sandbox, IPAddress Address)> PrepareAsync(string type) => PrepareAsync(H, type);

    private static async Task<(TestGuest Guest, SimulatedGuest Sandbox, IPAddress Address)> PrepareAsync(FirstBootHarness h, string type, SiteSettings? settings = null)
    {
        var guest = await h.DeployAsync(type, settings);
        var environment = (await h.App.Service<FirstBootEnvironments>().ForTemplateAsync(FirstBootHarness.Release, type, CancellationToken.None))!;
        var sandbox = SimulatedGuestImage.Create(Path.Combine(h.SandboxDirectory, $"script-{guest.Vmid}"), type, guest.Hostname,
            FirstBootHarness.Templates[type], environment, FirstBootHarness.ScriptDirectory);
        return (guest, sandbox, await h.AddressOfAsync(guest));
    }

    private sealed record ScriptRun(int Status, string Stdout, string Stderr)
    {
        public string Output => $"status {Status}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    private static async Task<ScriptRun> RunAsync(SimulatedGuest sandbox, IPAddress address, Dictionary<string, string>? extra = null, string[]? arguments = null)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        // The committed script itself, not the sandbox's copy of it.
        start.ArgumentList.Add(Path.Combine(FirstBootHarness.ScriptDirectory, SimulatedGuestImage.ScriptName));
        foreach (var argument in arguments ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
        start.Environment["FIRSTBOOT_DELAY"] = "0.05";
        start.Environment["FIRSTBOOT_MAX_DELAY"] = "0.2";
        foreach (var (key, value) in sandbox.ScriptEnvironment(address.ToString()).Concat(extra ?? []))
        {
            start.Environment[key] = value;
        }

        var run = await ChildProcess.RunAsync(start, limit: TimeSpan.FromSeconds(60));
        return new ScriptRun(run.ExitCode, run.Stdout, run.Stderr);
    }

    /// <summary>The harness project's Home Assistant (the broker of its guests), active at <paramref name="ip"/>: one row, moved on each call.</summary>
    private async Task SetHomeAssistantAsync(string ip)
    {
        await using var connection = await H.App.Service<Database>().OpenAsync();
        var hostname = $"{FirstBootHarness.Slug}-{TemplateTypes.CtrlablePro}";
        if (await connection.ExecuteAsync("UPDATE instances SET ip = @ip WHERE hostname = @hostname AND state <> 'deleted';", new { ip, hostname }) == 0)
        {
            await connection.ExecuteAsync("""
                INSERT INTO instances (project_id, type, kind, hostname, ip, state, release, created_at, updated_at)
                VALUES (@ProjectId, 'ctrlable-pro', 'vm', @hostname, @ip, 'active', @release, @now, @now);
                """, new { H.ProjectId, hostname, ip, release = FirstBootHarness.Release, now = DateTimeOffset.UtcNow });
        }
    }

    /// <summary>The broker host the app's configuration points at: zigbee2mqtt's mqtt.server's host, frigate's mqtt.host.</summary>
    private static string? BrokerOf(string type, SimulatedGuest sandbox)
    {
        if (type == TemplateTypes.Zigbee2Mqtt)
        {
            return new Uri(Scalar(Yaml(sandbox.PathOf("/opt/zigbee2mqtt/data/configuration.yaml")), "mqtt", "server")!).Host;
        }

        var frigate = Yaml(sandbox.PathOf("/config/config.yml"));
        Scalar(frigate, "mqtt", "port").Should().Be("1883");
        return Scalar(frigate, "mqtt", "host");
    }

    /// <summary>Following the broker changed the broker's address only: the rest of the assignment's settings stay.</summary>
    private async Task AssertKeptAsync(string type, SimulatedGuest sandbox, TestGuest guest)
    {
        var assignment = (await H.App.Service<AssignmentService>().GetAsync(guest.Id, CancellationToken.None))!;
        var root = Yaml(sandbox.PathOf(type == TemplateTypes.Zigbee2Mqtt ? "/opt/zigbee2mqtt/data/configuration.yaml" : "/config/config.yml"));
        Scalar(root, "mqtt", "user").Should().Be(assignment.Mqtt!.User);
        Scalar(root, "mqtt", "password").Should().Be(assignment.Mqtt.Password);
        if (type == TemplateTypes.Zigbee2Mqtt)
        {
            Scalar(root, "mqtt", "base_topic").Should().Be(assignment.Mqtt.BaseTopic);
            Scalar(root, "serial", "port").Should().Be(assignment.Zigbee!.Port);
        }
        else
        {
            Scalar(root, "mqtt", "client_id").Should().Be(assignment.Mqtt.ClientId);
            Scalar(root, "cameras", "front_door", "ffmpeg", "inputs", "0", "path").Should().Be(FirstBootHarness.Settings.Cameras[0].StreamUrl);
        }
    }

    private static List<string> Calls(SimulatedGuest sandbox) => [.. File.ReadAllLines(Path.Combine(sandbox.Log, "calls.log"))];

    /// <summary>Every file and link of the sandbox with its content hash or target.</summary>
    private static List<string> Snapshot(SimulatedGuest sandbox) =>
        [.. new DirectoryInfo(sandbox.Directory).EnumerateFileSystemInfos("*", SearchOption.AllDirectories)
            .OrderBy(f => f.FullName, StringComparer.Ordinal)
            .Select(f => f.LinkTarget is { } target ? $"{f.FullName} -> {target}"
                : f is FileInfo file ? $"{f.FullName} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file.FullName)))} {File.GetUnixFileMode(file.FullName)}"
                : f.FullName)];

    private static IEnumerable<string> SecretsOf(Assignment assignment)
    {
        foreach (var secret in new[] { assignment.Mqtt?.Password, assignment.Portainer?.Password, assignment.FreePbx?.Password }.OfType<string>())
        {
            yield return secret;
        }

        foreach (var key in assignment.Zwave?.SecurityKeys.Values.Concat(assignment.Zwave.SecurityKeysLongRange.Values) ?? [])
        {
            yield return key;
        }
    }

    private static UnixFileMode FileMode(string path) => File.GetUnixFileMode(path);

    private const UnixFileMode UnitFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private static YamlMappingNode Yaml(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static YamlNode Node(YamlMappingNode root, string[] path)
    {
        YamlNode node = root;
        foreach (var part in path)
        {
            node = node is YamlSequenceNode sequence ? sequence.Children[int.Parse(part, CultureInfo.InvariantCulture)] : ((YamlMappingNode)node).Children[new YamlScalarNode(part)];
        }

        return node;
    }

    private static string? Scalar(YamlMappingNode root, params string[] path) => ((YamlScalarNode)Node(root, path)).Value;

    private static IEnumerable<string?> Sequence(YamlMappingNode root, params string[] path) =>
        ((YamlSequenceNode)Node(root, path)).Children.Select(c => ((YamlScalarNode)c).Value);

    /// <summary>
    /// Interrupted and failing first boots. A test class of its own, with its own orchestrator and emulator, so that these
    /// long cases run beside the others instead of after them.
    /// </summary>
    public sealed class Recovery(Fixture fixture) : IClassFixture<Fixture>
    {
        private FirstBootHarness H => fixture.Harness;

        private Task<(TestGuest Guest, SimulatedGuest Sandbox, IPAddress Address)> PrepareAsync(string type) => FirstBootScriptTests.PrepareAsync(H, type);

        [Theory]
        [InlineData("SANDBOX_KILL_ON", "ssh-keygen -A", InstanceStates.Waiting)]
        // The guest's own credential is on disk, the claiming fetch not sent yet: the next run claims with the same one.
        [InlineData("SANDBOX_KILL_ON", "curl", InstanceStates.Waiting)]
        [InlineData("SANDBOX_KILL_AFTER", "/api/provision/assignment", InstanceStates.Personalising)]
        [InlineData("SANDBOX_KILL_ON", "systemctl stop zigbee2mqtt.service", InstanceStates.Personalising)]
        [InlineData("SANDBOX_KILL_ON", "systemctl restart zigbee2mqtt.service", InstanceStates.Personalising)]
        [InlineData("SANDBOX_KILL_AFTER", "/api/provision/complete", InstanceStates.Active)]
        [InlineData("SANDBOX_KILL_ON", "systemctl disable", InstanceStates.Active)]
        public async Task Killed_half_way_the_next_run_finishes_correctly(string variable, string point, string stateAfterKill)
        {
            var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Zigbee2Mqtt);
            var curl = new Dictionary<string, string> { ["CURL"] = Path.Combine(sandbox.Bin, "curl") };

            var killed = await RunAsync(sandbox, address, new(curl) { [variable] = point });

            killed.Status.Should().Be(137, killed.Output);
            (await H.InstanceAsync(guest.Id)).State.Should().Be(stateAfterKill);
            File.Exists(sandbox.PathOf("/var/lib/ctrlable/firstboot/done")).Should().BeFalse();

            var next = await RunAsync(sandbox, address, curl);

            next.Status.Should().Be(0, next.Output);
            next.Stderr.Should().BeEmpty();
            (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Active);
            var assignment = (await H.App.Service<AssignmentService>().GetAsync(guest.Id, CancellationToken.None))!;
            await AssertConfigurationAsync(TemplateTypes.Zigbee2Mqtt, sandbox, assignment);
            File.ReadAllText(sandbox.PathOf("/etc/machine-id")).Trim().Should().MatchRegex("^[0-9a-f]{32}$");
            KeyTypes.Should().OnlyContain(t => !File.ReadAllText(sandbox.PathOf($"/etc/ssh/ssh_host_{t}_key")).Contains("template", StringComparison.Ordinal));
            File.Exists(sandbox.PathOf($"/etc/systemd/system/multi-user.target.wants/{SimulatedGuestImage.UnitName}")).Should().BeFalse();
            Calls(sandbox).Should().Contain("systemctl restart zigbee2mqtt.service");
            File.Exists(sandbox.PathOf("/var/lib/ctrlable/firstboot/done")).Should().BeTrue();
            AssertSecretsForgotten(sandbox, follows: true);
        }

        /// <summary>
        /// The first fetch claims the assignment and the script keeps the credential it got; killed after that, the next
        /// run resumes with it — while the release secret alone, which every clone of the release holds, is refused.
        /// </summary>
        [Fact]
        public async Task An_interrupted_first_boot_resumes_with_its_stored_credential_which_is_refused_once_it_completed()
        {
            var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Zigbee2Mqtt);

            var killed = await RunAsync(sandbox, address, new() { ["SANDBOX_KILL_ON"] = "systemctl stop zigbee2mqtt.service" });

            killed.Status.Should().Be(137, killed.Output);
            var credentialFile = sandbox.PathOf(SimulatedGuestImage.CredentialPath);
            var credential = (await File.ReadAllTextAsync(credentialFile)).Trim();
            credential.Should().MatchRegex("^[0-9a-f]{64}$");
            FileMode(credentialFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            killed.Output.Should().NotContain(credential);
            using var withSecret = H.App.CreateHttpsClient(address);
            withSecret.DefaultRequestHeaders.Add(ProvisionApi.SecretHeader, H.ReleaseSecret);
            var byReleaseSecret = await withSecret.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");
            byReleaseSecret.StatusCode.Should().Be(HttpStatusCode.Conflict, "the guest confirmed its claim: the release secret alone no longer reads the assignment");

            var next = await RunAsync(sandbox, address);

            next.Status.Should().Be(0, next.Output);
            next.Stderr.Should().BeEmpty();
            next.Stdout.Should().NotContain("is claimed", "the resumed run fetched with its credential, it did not claim again");
            (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Active);
            (await H.HistoryAsync(guest.Id)).Should().Equal("waiting>personalising", "personalising>active");
            await AssertConfigurationAsync(TemplateTypes.Zigbee2Mqtt, sandbox, (await H.App.Service<AssignmentService>().GetAsync(guest.Id, CancellationToken.None))!);
            AssertSecretsForgotten(sandbox, follows: true);
            using var withCredential = H.App.CreateHttpsClient(address);
            withCredential.DefaultRequestHeaders.Add(ProvisionApi.CredentialHeader, credential);
            (await withCredential.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.Gone);
            (await withCredential.PostAsJsonAsync("/api/provision/complete", new { hostname = guest.Hostname, status = "failed" })).StatusCode.Should().Be(HttpStatusCode.Gone);
            next.Output.Should().NotContain(credential);
            File.ReadAllText(Path.Combine(sandbox.Log, "calls.log")).Should().NotContain(credential);
            H.App.Logs.Lines.Should().NotContain(l => l.Contains(credential, StringComparison.Ordinal));
        }

        [Fact]
        public async Task A_guest_that_lost_its_confirmed_credential_stops_with_one_clear_line()
        {
            var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Frigate);
            var killed = await RunAsync(sandbox, address, new() { ["SANDBOX_KILL_ON"] = "systemctl stop frigate.service" });
            killed.Status.Should().Be(137, killed.Output);
            File.Delete(sandbox.PathOf(SimulatedGuestImage.CredentialPath));

            var run = await RunAsync(sandbox, address);

            run.Status.Should().Be(3, run.Output);
            run.Stderr.Trim().Should().StartWith($"ctrlable-firstboot: configure: the assignment of {guest.Hostname} was claimed and this guest has no credential for it (409: Already claimed:");
            run.Stderr.Trim().Split('\n').Should().ContainSingle("a claimed assignment is not retried");
            (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Personalising);
        }

        [Fact]
        public async Task An_assignment_holding_a_control_character_is_refused_before_any_file_changes()
        {
            // The site's own broker, its user name written with a bell character.
            var settings = FirstBootHarness.Settings with { Mqtt = new MqttSettings { Host = "192.168.1.50", Username = "ctrl\u0007able" } };
            var (guest, sandbox, address) = await FirstBootScriptTests.PrepareAsync(H, TemplateTypes.Frigate, settings);
            var configuration = await File.ReadAllTextAsync(sandbox.PathOf("/config/config.yml"));

            var run = await RunAsync(sandbox, address);

            run.Status.Should().Be(1, run.Output);
            run.Stderr.Trim().Should().Be("ctrlable-firstboot: configure: the assignment holds a value with a control character; refusing to write it into configuration files");
            (await File.ReadAllTextAsync(sandbox.PathOf("/config/config.yml"))).Should().Be(configuration);
            (await H.InstanceAsync(guest.Id)).State.Should().NotBe(InstanceStates.Active);
        }

        [Fact]
        public async Task A_failure_after_the_fetch_is_reported_and_stops_the_restarts()
        {
            var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.ZwaveJs);

            var run = await RunAsync(sandbox, address, new() { ["SANDBOX_FAIL_ON"] = "systemctl restart zwave-js-ui.service" });

            run.Status.Should().Be(3, run.Output);
            run.Stderr.Trim().Should().Be("ctrlable-firstboot: restart: restarting zwave-js-ui.service failed (status 1): systemctl: simulated failure of 'systemctl restart zwave-js-ui.service'");
            var failed = await H.InstanceAsync(guest.Id);
            failed.State.Should().Be(InstanceStates.Failed);
            failed.Error.Should().StartWith("restart: restarting zwave-js-ui.service failed (status 1)");
            AssertSecretsForgotten(sandbox, follows: false);

            var again = await RunAsync(sandbox, address);

            again.Status.Should().Be(3, again.Output);
            again.Stderr.Trim().Should().Be("ctrlable-firstboot: start: an earlier run failed and told the orchestrator so: redeploy the instance to start again");
            (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Failed);
        }
    }
}
