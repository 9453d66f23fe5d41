using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
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

        var run = await RunAsync(sandbox, address);

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
        versions.Should().Contain("firstboot", "2").And.Contain("debian", "12.11");
        File.Exists(sandbox.PathOf($"/etc/systemd/system/multi-user.target.wants/{SimulatedGuestImage.UnitName}")).Should().BeFalse();
        File.Exists(sandbox.PathOf("/var/lib/ctrlable/firstboot/done")).Should().BeTrue();
        Calls(sandbox).Should().Contain($"systemctl disable {SimulatedGuestImage.UnitName}");
        Directory.Exists(sandbox.PathOf("/run/ctrlable-firstboot")).Should().BeFalse();
        foreach (var secret in SecretsOf(assignment).Append(H.ReleaseSecret))
        {
            run.Output.Should().NotContain(secret);
            File.ReadAllText(Path.Combine(sandbox.Log, "calls.log")).Should().NotContain(secret);
        }

        // The release secret and the instance credential (64 hex digits each) were never printed, and are gone now.
        AssertSecretsForgotten(sandbox);
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
        var closedPort = ClosedPort();
        await File.WriteAllTextAsync(env, original.Replace(H.App.HttpsAddress.GetLeftPart(UriPartial.Authority), $"https://127.0.0.1:{closedPort}", StringComparison.Ordinal));

        var down = await RunAsync(sandbox, address, new() { ["FIRSTBOOT_ATTEMPTS"] = "3" });

        down.Status.Should().Be(1);
        var lines = down.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(3, "one line per failed attempt: " + down.Stderr);
        lines[0].Should().StartWith("ctrlable-firstboot: configure: attempt 1 of 3 failed (no TLS handshake: not listening, or unreachable); next in");
        lines[^1].Should().Be($"ctrlable-firstboot: configure: no answer from the orchestrator at https://127.0.0.1:{closedPort} after 3 attempts (last: no TLS handshake: not listening, or unreachable)");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting);
        File.Exists(sandbox.PathOf($"/etc/systemd/system/multi-user.target.wants/{SimulatedGuestImage.UnitName}")).Should().BeTrue("it runs again");

        await File.WriteAllTextAsync(env, original);
        var up = await RunAsync(sandbox, address);

        up.Status.Should().Be(0, up.Output);
        up.Stdout.Should().NotContain("machine-id:", "the identity steps were done in the first run");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Active);
    }

    [Fact]
    public async Task An_orchestrator_that_does_not_present_the_pinned_certificate_gets_no_request()
    {
        var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.Frigate);
        var env = sandbox.PathOf(FirstBootEnvironment.GuestPath);
        var fingerprint = H.App.Service<Provisioner.Tls.TlsCertificate>().Fingerprint;
        var other = string.Join(':', SHA256.HashData(Encoding.UTF8.GetBytes("another certificate")).Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
        var text = await File.ReadAllTextAsync(env);
        await File.WriteAllTextAsync(env, text.Replace(fingerprint, other, StringComparison.Ordinal));

        var run = await RunAsync(sandbox, address);

        run.Status.Should().Be(1);
        run.Stderr.Trim().Should().Be($"ctrlable-firstboot: configure: {H.App.HttpsAddress.GetLeftPart(UriPartial.Authority)} presents certificate {fingerprint}, not the pinned {other}: the template was built for another orchestrator, or its certificate changed");
        run.Stderr.Trim().Split('\n').Should().ContainSingle();
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting, "curl aborts before it sends anything");
    }

    /// <summary>A power cut at each point of the run; the next run (the next boot) finishes correctly.</summary>
    [Theory]
    [InlineData("SANDBOX_KILL_ON", "ssh-keygen -A", InstanceStates.Waiting)]
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
        AssertSecretsForgotten(sandbox);
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
        AssertSecretsForgotten(sandbox);
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
    public async Task A_failure_after_the_fetch_is_reported_and_stops_the_restarts()
    {
        var (guest, sandbox, address) = await PrepareAsync(TemplateTypes.ZwaveJs);

        var run = await RunAsync(sandbox, address, new() { ["SANDBOX_FAIL_ON"] = "systemctl restart zwave-js-ui.service" });

        run.Status.Should().Be(3, run.Output);
        run.Stderr.Trim().Should().Be("ctrlable-firstboot: restart: restarting zwave-js-ui.service failed (status 1): systemctl: simulated failure of 'systemctl restart zwave-js-ui.service'");
        var failed = await H.InstanceAsync(guest.Id);
        failed.State.Should().Be(InstanceStates.Failed);
        failed.Error.Should().StartWith("restart: restarting zwave-js-ui.service failed (status 1)");
        AssertSecretsForgotten(sandbox);

        var again = await RunAsync(sandbox, address);

        again.Status.Should().Be(3, again.Output);
        again.Stderr.Trim().Should().Be("ctrlable-firstboot: start: an earlier run failed and told the orchestrator so: redeploy the instance to start again");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Failed);
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

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        scripts.Should().HaveCountGreaterThanOrEqualTo(2);
        process.ExitCode.Should().Be(0, output);
    }

    /// <summary>firstboot.env (the release secret) and the instance credential are gone; template.env stays.</summary>
    private static void AssertSecretsForgotten(SimulatedGuest sandbox)
    {
        File.Exists(sandbox.PathOf(FirstBootEnvironment.GuestPath)).Should().BeFalse();
        File.Exists(sandbox.PathOf(SimulatedGuestImage.CredentialPath)).Should().BeFalse();
        File.Exists(sandbox.PathOf(SimulatedGuestImage.TemplateEnvPath)).Should().BeTrue();
    }

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

    private async Task<(TestGuest Guest, SimulatedGuest Sandbox, IPAddress Address)> PrepareAsync(string type)
    {
        var guest = await H.DeployAsync(type);
        var environment = (await H.App.Service<FirstBootEnvironments>().ForTemplateAsync(FirstBootHarness.Release, type, CancellationToken.None))!;
        var sandbox = SimulatedGuestImage.Create(Path.Combine(H.SandboxDirectory, $"script-{guest.Vmid}"), type, guest.Hostname,
            FirstBootHarness.Templates[type], environment, FirstBootHarness.ScriptDirectory);
        return (guest, sandbox, await H.AddressOfAsync(guest));
    }

    private sealed record ScriptRun(int Status, string Stdout, string Stderr)
    {
        public string Output => $"status {Status}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    private static async Task<ScriptRun> RunAsync(SimulatedGuest sandbox, IPAddress address, Dictionary<string, string>? extra = null)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        // The committed script itself, not the sandbox's copy of it.
        start.ArgumentList.Add(Path.Combine(FirstBootHarness.ScriptDirectory, SimulatedGuestImage.ScriptName));
        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
        start.Environment["FIRSTBOOT_DELAY"] = "0.05";
        start.Environment["FIRSTBOOT_MAX_DELAY"] = "0.2";
        foreach (var (key, value) in sandbox.ScriptEnvironment(address.ToString()).Concat(extra ?? []))
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return new ScriptRun(process.ExitCode, await stdout, await stderr);
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

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static UnixFileMode FileMode(string path) => File.GetUnixFileMode(path);

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
}
