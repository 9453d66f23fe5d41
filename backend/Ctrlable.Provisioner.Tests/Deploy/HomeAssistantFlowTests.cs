using System.Net;
using System.Text.Json;
using Ctrlable.HaSim;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// The Home Assistant steps of a ctrlable-pro instance (prepare, restore, secure, wire) against the Home Assistant
/// emulator, from the point where the VM was located: the instance is recorded with HaSim's URL and handed to the
/// pipeline. The emulator outlives the orchestrator, so the orchestrator can be stopped at each step and started again.
/// </summary>
public sealed class HomeAssistantFlowTests
{
    private const string AdminUser = TestBaseBackup.AdminUser;
    private const string AdminPassword = TestBaseBackup.AdminPassword;
    private const string BaseUuid = TestBaseBackup.CoreUuid;
    private const string Release = "2026.06";

    private static int _addresses;
    private static int _networks;

    [Fact]
    public async Task Regenerate_gives_the_site_a_fresh_uuid_its_own_credentials_and_wired_services_without_logging_a_secret()
    {
        await using var ha = await HaSimulator.StartAsync(Fast());
        var data = TempDirectory.Create("ha-flow");
        await using var run = await Run.StartAsync(ha, data, "regenerate");
        var id = await run.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: true);

        var instance = await run.WaitFinishedAsync(id);

        instance.State.Should().Be(InstanceStates.Active, instance.Error);
        var site = (await run.App.Service<HomeAssistantRepository>().FindAsync(id, CancellationToken.None))!;
        var state = ha.State;
        state.CoreUuid.Should().Be(site.CoreUuid).And.NotBe(BaseUuid);
        state.UploadedBackups.Should().HaveCount(1);

        var admin = await run.SecretAsync(HomeAssistantSetup.AdminSecretName(id));
        var orchestrator = await run.SecretAsync(HomeAssistantSetup.OrchestratorSecretName(id));
        state.PasswordMatches(AdminUser, AdminPassword).Should().BeFalse("the base password is replaced per site");
        state.PasswordMatches(AdminUser, admin.GetProperty("password").GetString()!).Should().BeTrue();
        var orchestratorUser = state.Users.Single(u => state.Credentials.Any(c => c.UserId == u.Id && c.Username == HomeAssistantSetup.OrchestratorUsername));
        orchestratorUser.GroupIds.Should().Contain(HaUser.AdminGroup);
        state.PasswordMatches(HomeAssistantSetup.OrchestratorUsername, orchestrator.GetProperty("password").GetString()!).Should().BeTrue();

        // Only the Supervisor's system token and the orchestrator's long-lived token are left: no base token, no session.
        state.RefreshTokens.Where(t => t.TokenType != HaRefreshToken.System).Should().ContainSingle()
            .Which.Should().Match<HaRefreshToken>(t => t.UserId == orchestratorUser.Id && t.TokenType == HaRefreshToken.LongLived);
        state.ConfigEntries.Select(e => e.Domain).Should().BeEquivalentTo(["mqtt", "zwave_js", "frigate"]);
        state.ConfigEntries.Single(e => e.Domain == "zwave_js").Data["url"]!.GetValue<string>().Should().Be("ws://127.0.0.1:3000");
        var mqtt = await run.App.Service<ProjectMqttCredentials>().GetAsync(instance.ProjectId, CancellationToken.None);
        state.ConfigEntries.Single(e => e.Domain == "mqtt").Data["username"]!.GetValue<string>().Should().Be(mqtt!.Username);

        var secrets = new[]
        {
            AdminPassword, admin.GetProperty("password").GetString()!, orchestrator.GetProperty("password").GetString()!,
            orchestrator.GetProperty("token").GetString()!, mqtt.Password!,
        };
        run.App.Logs.Lines.Should().NotContain(line => secrets.Any(s => line.Contains(s, StringComparison.Ordinal)));
        run.App.Logs.Lines.Should().Contain(line => line.Contains("restore of the base backup requested", StringComparison.Ordinal), "the flow logs its steps");
    }

    [Fact]
    public async Task The_platform_learns_the_site_s_Home_Assistant_within_its_contract_and_never_a_credential()
    {
        await using var platform = await Platform.FakePlatform.StartAsync();
        await using var ha = await HaSimulator.StartAsync(Fast());
        var data = TempDirectory.Create("ha-platform");
        await using var run = await Run.StartAsync(ha, data, "regenerate", extraSettings: Platform.PlatformHarness.PlatformSettings(platform));
        await Platform.PlatformHarness.EnrolAsync(run.App, platform);
        var id = await run.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: true);

        var instance = await run.WaitFinishedAsync(id);

        instance.State.Should().Be(InstanceStates.Active, instance.Error);
        var site = (await run.App.Service<HomeAssistantRepository>().FindAsync(id, CancellationToken.None))!;
        JsonElement? Reported() => platform.Accepted.SelectMany(r => r.GetProperty("instances").EnumerateArray())
            .Where(i => i.GetProperty("id").GetInt64() == id && i.GetProperty("state").GetString() == InstanceStates.Active)
            .Select(i => (JsonElement?)i).LastOrDefault();
        await Eventually.TrueAsync(() => Reported() is not null, "the active ctrlable-pro reported");
        platform.ContractViolations.Should().BeEmpty();

        var reported = Reported()!.Value.GetProperty("homeAssistant");
        reported.GetProperty("url").GetString().Should().Be(site.Url);
        reported.GetProperty("uuidPolicy").GetString().Should().Be("regenerate");
        reported.GetProperty("coreUuid").GetString().Should().Be(site.CoreUuid).And.Be(ha.State.CoreUuid);
        reported.GetProperty("securedAt").ValueKind.Should().Be(JsonValueKind.String);
        reported.GetProperty("wiredAt").ValueKind.Should().Be(JsonValueKind.String);
        platform.Accepted.SelectMany(r => r.GetProperty("instances").EnumerateArray())
            .Where(i => i.GetProperty("id").GetInt64() != id).Should().OnlyContain(i => i.GetProperty("homeAssistant").ValueKind == JsonValueKind.Null);

        var admin = await run.SecretAsync(HomeAssistantSetup.AdminSecretName(id));
        var orchestrator = await run.SecretAsync(HomeAssistantSetup.OrchestratorSecretName(id));
        var everything = string.Join('\n', platform.Accepted.Select(r => r.GetRawText()));
        foreach (var secret in new[] { AdminPassword, admin.GetProperty("password").GetString()!, orchestrator.GetProperty("password").GetString()!, orchestrator.GetProperty("token").GetString()! })
        {
            everything.Should().NotContain(secret);
        }
    }

    [Fact]
    public async Task Keep_restores_the_base_uuid_and_still_removes_the_base_tokens()
    {
        await using var ha = await HaSimulator.StartAsync(Fast());
        var data = TempDirectory.Create("ha-keep");
        await using var run = await Run.StartAsync(ha, data, "keep");
        var backup = HaBaseBackup.CreateBackup(Base());
        var baseTokens = Tokens(backup);
        var id = await run.SeedAsync(backup.Write(null), backupKey: null, services: false);

        var instance = await run.WaitFinishedAsync(id);

        instance.State.Should().Be(InstanceStates.Active, instance.Error);
        ha.State.CoreUuid.Should().Be(BaseUuid);
        ha.State.RefreshTokens.Select(t => t.Id).Should().NotIntersectWith(baseTokens, "the base's session and long-lived tokens are deleted after sign-in");
        ha.State.ConfigEntries.Select(e => e.Domain).Should().Equal("mqtt");
    }

    [Theory]
    [InlineData("regenerate")]
    [InlineData("keep")]
    public async Task An_encrypted_base_backup_restores_with_its_key_and_fails_clearly_with_a_wrong_one(string policy)
    {
        await using var ha = await HaSimulator.StartAsync(Fast());
        var data = TempDirectory.Create("ha-key");
        await using var run = await Run.StartAsync(ha, data, policy);
        var id = await run.SeedAsync(HaBaseBackup.Create(Base() with { Password = "the-right-key" }), backupKey: "a-wrong-key", services: false);

        var failed = await run.WaitFinishedAsync(id);

        failed.State.Should().Be(InstanceStates.Failed);
        failed.Message.Should().Be("Failed while restoring Home Assistant's base backup");
        failed.Error.Should().Contain("encryption key is wrong");
        ha.State.RestoredBackupId.Should().BeNull();

        await using var right = await Run.StartAsync(ha, TempDirectory.Create("ha-key-right"), policy);
        var ok = await right.WaitFinishedAsync(await right.SeedAsync(HaBaseBackup.Create(Base() with { Password = "the-right-key" }), backupKey: "the-right-key", services: false));
        ok.State.Should().Be(InstanceStates.Active, ok.Error);
        ha.State.CoreUuid.Should().Be(policy == "keep" ? BaseUuid : (await right.App.Service<HomeAssistantRepository>().FindAsync(ok.Id, CancellationToken.None))!.CoreUuid);
    }

    [Fact]
    public async Task Core_on_port_80_is_followed_there_without_posting_through_a_redirect()
    {
        // Core 2026.8+ on HAOS: the landing page on 8123, then Core on 80 with 8123 redirecting to it.
        await using var ha = await HaSimulator.StartAsync(Fast() with { Layout = HaPortLayout.Core80 });
        var data = TempDirectory.Create("ha-port80");
        await using var run = await Run.StartAsync(ha, data, "regenerate");
        var id = await run.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: false);

        var instance = await run.WaitFinishedAsync(id);

        instance.State.Should().Be(InstanceStates.Active, instance.Error);
        instance.AppUrl.Should().Be($"http://{ha.Options.Address}:{ha.HttpPort}/");
        (await run.App.Service<HomeAssistantRepository>().FindAsync(id, CancellationToken.None))!.Url.Should().Be(instance.AppUrl);
        ha.State.ConfigEntries.Select(e => e.Domain).Should().Equal("mqtt");
    }

    [Fact]
    public async Task Onboarding_started_by_hand_fails_with_what_to_do()
    {
        await using var ha = await HaSimulator.StartAsync(Fast());
        await ha.WaitForPhaseAsync(HaPhase.Running);
        ha.Edit(config => config.OnboardingDone.Add("user"));
        var data = TempDirectory.Create("ha-partial");
        await using var run = await Run.StartAsync(ha, data, "regenerate");
        var id = await run.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: false);

        var instance = await run.WaitFinishedAsync(id);

        instance.State.Should().Be(InstanceStates.Failed);
        instance.Message.Should().Be("Home Assistant was onboarded by hand");
        instance.Error.Should().Contain("delete the instance and deploy it again");
        ha.State.UploadedBackups.Should().BeEmpty();
    }

    [Theory]
    [InlineData(InstanceStates.Restoring)]
    [InlineData(InstanceStates.Securing)]
    [InlineData(InstanceStates.Wiring)]
    public async Task Home_Assistant_restarting_mid_flow_is_waited_for(string step)
    {
        await using var ha = await HaSimulator.StartAsync(Fast() with { RestartDownTime = TimeSpan.FromSeconds(2) });
        var data = TempDirectory.Create("ha-restart");
        var restart = new OnStep(step, () => ha.RestartCore());
        await using var run = await Run.StartAsync(ha, data, "regenerate", restart);
        var id = await run.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: true);

        var instance = await run.WaitFinishedAsync(id);

        restart.Reached.Should().BeTrue();
        instance.State.Should().Be(InstanceStates.Active, instance.Error);
        ha.State.Boots.Should().BeGreaterThan(2, "Core started, restarted for the restore, and restarted once more");
        ha.State.ConfigEntries.Should().HaveCount(3);
    }

    [Theory]
    [InlineData(InstanceStates.Restoring)]
    [InlineData(HomeAssistantSetup.BackupUploaded)]
    [InlineData(HomeAssistantSetup.RestoreRequested)]
    [InlineData(InstanceStates.Securing)]
    [InlineData(HomeAssistantSetup.AdminRotated)]
    [InlineData(InstanceStates.Wiring)]
    public async Task Stopped_at_any_Home_Assistant_step_the_flow_resumes_without_repeating_it(string step)
    {
        await using var ha = await HaSimulator.StartAsync(Fast());
        var data = TempDirectory.Create("ha-crash");
        var crash = new OnStep(step, block: true);
        long id;
        await using (var first = await Run.StartAsync(ha, data, "regenerate", crash, keepData: true))
        {
            id = await first.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: true);
            (await Task.WhenAny(crash.ReachedTask, Task.Delay(TimeSpan.FromSeconds(60)))).Should().Be(crash.ReachedTask, $"the flow should reach {step}");
        }

        await using var second = await Run.StartAsync(ha, data, "regenerate");
        var instance = await second.WaitFinishedAsync(id);

        instance.State.Should().Be(InstanceStates.Active, instance.Error);
        var state = ha.State;
        state.UploadedBackups.Should().HaveCount(1, "the upload is not repeated");
        state.Boots.Should().Be(2, "Core restarted once, for the one restore");
        state.CoreUuid.Should().Be((await second.App.Service<HomeAssistantRepository>().FindAsync(id, CancellationToken.None))!.CoreUuid);
        state.Credentials.Count(c => c.Username == HomeAssistantSetup.OrchestratorUsername).Should().Be(1);
        state.PasswordMatches(AdminUser, (await second.SecretAsync(HomeAssistantSetup.AdminSecretName(id))).GetProperty("password").GetString()!).Should().BeTrue();
        state.RefreshTokens.Where(t => t.TokenType != HaRefreshToken.System).Should().ContainSingle();
        state.ConfigEntries.Select(e => e.Domain).Should().BeEquivalentTo(["mqtt", "zwave_js", "frigate"]);
    }

    [Fact]
    public async Task Wiring_again_adds_nothing_twice_and_a_later_frigate_wires_itself_in()
    {
        await using var ha = await HaSimulator.StartAsync(Fast());
        var data = TempDirectory.Create("ha-rewire");
        await using var run = await Run.StartAsync(ha, data, "regenerate");
        var id = await run.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: true);
        (await run.WaitFinishedAsync(id)).State.Should().Be(InstanceStates.Active);
        // The same wiring again (e.g. a retry): every service is found wired, nothing is added.
        await run.App.Service<InstanceTransitions>().SetStateAsync(id, InstanceStates.Wiring, "again");
        run.App.Service<DeployRunner>().Enqueue(id);
        (await run.WaitFinishedAsync(id)).State.Should().Be(InstanceStates.Active);
        ha.State.ConfigEntries.Should().HaveCount(3);

        // A second Frigate becomes active later (recorded as its first boot's complete records it: the change is published).
        await run.AddServiceAsync("frigate", "127.0.0.2");
        await Eventually.TrueAsync(() => ha.State.ConfigEntries.Count(e => e.Domain == "frigate") == 2, "two Frigate entries");
        var settled = await run.WaitFinishedAsync(id);
        settled.State.Should().Be(InstanceStates.Active);
        settled.Error.Should().BeNull();
        ha.State.ConfigEntries.Select(e => e.Domain).Should().BeEquivalentTo(["mqtt", "zwave_js", "frigate", "frigate"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(HomeAssistantSetup.HostnameSet)]
    [InlineData(HomeAssistantSetup.NetworkRequested)]
    public async Task Home_Assistant_is_named_and_moved_to_its_static_address_once_also_when_stopped_halfway(string? step)
    {
        await using var ha = await HaSimulator.StartAsync(Fast());
        var data = TempDirectory.Create("ha-static");
        var network = $"127.0.{36 + Interlocked.Increment(ref _networks)}";
        var settings = JsonSerializer.Serialize(new
        {
            addressing = new { mode = "static", network = $"{network}.0/24", range = $"{network}.16/28", gateway = $"{network}.1", dnsServers = new[] { $"{network}.1", $"{network}.2" } },
        });
        var dhcp = ha.Address;
        long id;
        if (step is null)
        {
            await using var run = await Run.StartAsync(ha, data, "regenerate", keepData: true);
            id = await run.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: true, settings);
            (await run.WaitFinishedAsync(id)).State.Should().Be(InstanceStates.Active);
        }
        else
        {
            var crash = new OnStep(step, block: true);
            await using (var first = await Run.StartAsync(ha, data, "regenerate", crash, keepData: true))
            {
                id = await first.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: true, settings);
                (await Task.WhenAny(crash.ReachedTask, Task.Delay(TimeSpan.FromSeconds(60)))).Should().Be(crash.ReachedTask, $"the flow should reach {step}");
            }
        }

        await using var second = await Run.StartAsync(ha, data, "regenerate");
        var instance = await second.WaitFinishedAsync(id);

        instance.State.Should().Be(InstanceStates.Active, instance.Error);
        instance.StaticIp.Should().Be($"{network}.16");
        ha.Address.Should().Be(IPAddress.Parse(instance.StaticIp!)).And.NotBe(dhcp);
        ha.Host.Hostname.Should().Be(instance.Hostname);
        ha.Host.Ipv4Address.Should().Equal($"{network}.16/24");
        ha.Host.Ipv4Gateway.Should().Be($"{network}.1");
        ha.Host.Ipv4Nameservers.Should().Equal($"{network}.1", $"{network}.2");
        instance.Ip.Should().Be(instance.StaticIp);
        new Uri(instance.AppUrl!).Host.Should().Be(instance.StaticIp);
        var site = (await second.App.Service<HomeAssistantRepository>().FindAsync(id, CancellationToken.None))!;
        site.Url.Should().Be(instance.AppUrl);
        site.HostnameSetAt.Should().NotBeNull();
        site.NetworkSetAt.Should().NotBeNull();
        ha.State.Boots.Should().Be(2, "Core started, restarted for the restore; the address change restarts nothing");
        ha.State.ConfigEntries.Select(e => e.Domain).Should().BeEquivalentTo(["mqtt", "zwave_js", "frigate"], "the services are wired after the move");
    }

    [Fact]
    public async Task Where_the_site_s_DNS_serves_the_guests_names_Home_Assistant_reaches_its_services_by_name()
    {
        await using var ha = await HaSimulator.StartAsync(Fast());
        var data = TempDirectory.Create("ha-names");
        await using var run = await Run.StartAsync(ha, data, "regenerate");
        var id = await run.SeedAsync(HaBaseBackup.Create(Base()), backupKey: null, services: true, """{"addressing":{"mode":"dhcp","dnsServesHostnames":true}}""");

        var instance = await run.WaitFinishedAsync(id);

        instance.State.Should().Be(InstanceStates.Active, instance.Error);
        ha.State.ConfigEntries.Single(e => e.Domain == "zwave_js").Data["url"]!.GetValue<string>().Should().Be("ws://site-zwavejs:3000");
        ha.State.ConfigEntries.Single(e => e.Domain == "frigate").Data["url"]!.GetValue<string>().Should().Be("http://site-frigate:5000");
        ha.Host.Hostname.Should().Be("site-ctrlable-pro");
        ha.Host.Ipv4Method.Should().Be("auto");
    }

    // --- Harness ----------------------------------------------------------------------------------

    private static HaSimOptions Fast() => new()
    {
        Address = $"127.0.31.{10 + Interlocked.Increment(ref _addresses)}",
        LandingDuration = TimeSpan.FromMilliseconds(300),
        RestoreDownTime = TimeSpan.FromMilliseconds(300),
        LandingAfterRestore = TimeSpan.FromMilliseconds(200),
        RestartDownTime = TimeSpan.FromMilliseconds(300),
        BackupLoadDelay = TimeSpan.FromMilliseconds(100),
    };

    private static HaBaseBackupSpec Base() => TestBaseBackup.Spec();

    private static HashSet<string> Tokens(HaBackup backup)
    {
        var auth = JsonDocument.Parse(backup.ConfigFiles[".storage/auth"]);
        return [.. auth.RootElement.GetProperty("data").GetProperty("refresh_tokens").EnumerateArray()
            .Where(t => t.GetProperty("token_type").GetString() != HaRefreshToken.System).Select(t => t.GetProperty("id").GetString()!)];
    }

    /// <summary>An orchestrator (demo Proxmox host, its own data directory) whose Home Assistant ports are HaSim's.</summary>
    private sealed class Run : IAsyncDisposable
    {
        private readonly HaSimulator _ha;
        private long _project;

        private readonly bool _keepData;

        private Run(ProvisionerApp app, HaSimulator ha, bool keepData)
        {
            App = app;
            _ha = ha;
            _keepData = keepData;
        }

        public ProvisionerApp App { get; }

        /// <summary>Starts the orchestrator on <paramref name="data"/>; <paramref name="keepData"/> keeps that directory for a next run, else it is deleted on dispose.</summary>
        public static async Task<Run> StartAsync(HaSimulator ha, string data, string policy, IDeployStepObserver? observer = null, bool keepData = false,
            IDictionary<string, string?>? extraSettings = null)
        {
            var settings = DeployApiTests.FastDemo();
            foreach (var (key, value) in extraSettings ?? new Dictionary<string, string?>())
            {
                settings[key] = value;
            }

            settings["HomeAssistant:Ports:0"] = ha.LegacyPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings["HomeAssistant:Ports:1"] = ha.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings["HomeAssistant:PollIntervalSeconds"] = "0.05";
            settings["HomeAssistant:RequestTimeoutSeconds"] = "10";
            var app = new ProvisionerApp(releasesDirectory: Releases(data, policy), settings: settings, dataDirectory: data,
                services: observer is null ? null : s => s.AddSingleton(observer));
            await app.EnsureSetUpAsync();
            return new Run(app, ha, keepData);
        }

        /// <summary>Stores the base backup, records a project (with Z-Wave JS and Frigate when asked) and its ctrlable-pro located at HaSim.</summary>
        public async Task<long> SeedAsync(byte[] backup, string? backupKey, bool services, string settingsJson = "{}")
        {
            var ct = CancellationToken.None;
            // Replaces the demo host's generated one.
            await TestBaseBackup.StoreAsync(App, Release, backup, backupKey, replace: true);
            var instances = App.Service<InstanceRepository>();
            _project = (await instances.InsertProjectAsync("Site", "site", settingsJson, ct))!.Id;
            var (_, rows) = await instances.InsertDeployAsync(_project, "site", "stack", Release, null, [new NewInstance(TemplateTypes.CtrlablePro, "vm", 9000, "pve", Release)], ct);
            if (services)
            {
                await AddServiceAsync(TemplateTypes.ZwaveJs, "127.0.0.1");
                await AddServiceAsync(TemplateTypes.Frigate, "127.0.0.1");
            }

            var id = rows[0].Id;
            await App.Service<HomeAssistantRepository>().GetAsync(id, ct);
            await App.Service<HomeAssistantRepository>().SetUrlAsync(id, $"http://{_ha.Options.Address}:{_ha.LegacyPort}/", ct);
            await App.Service<InstanceTransitions>().SetStateAsync(id, InstanceStates.Preparing, "located (test)", ct: ct);
            App.Service<DeployRunner>().Enqueue(id);
            return id;
        }

        public async Task<long> AddServiceAsync(string type, string ip)
        {
            var instances = App.Service<InstanceRepository>();
            var (_, rows) = await instances.InsertDeployAsync(_project, "site", "instance", Release, null, [new NewInstance(type, "lxc", 9001, "pve", Release)], CancellationToken.None);
            await instances.SetIpAsync(rows[0].Id, ip, CancellationToken.None);
            await App.Service<InstanceTransitions>().SetStateAsync(rows[0].Id, InstanceStates.Active, "Running (test)");
            return rows[0].Id;
        }

        public async Task<InstanceRow> WaitFinishedAsync(long id)
        {
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (true)
            {
                var row = (await App.Service<InstanceRepository>().GetAsync(id, CancellationToken.None))!;
                if (row.IsFinished)
                {
                    return row;
                }

                DateTime.UtcNow.Should().BeBefore(deadline, $"the instance should finish (it is {row.State}: {row.Message})");
                await Task.Delay(50);
            }
        }

        public async Task<JsonElement> SecretAsync(string name) =>
            JsonDocument.Parse((await App.Service<SecretStore>().GetAsync(SecretKind.HomeAssistantCredential, name))!).RootElement.Clone();

        public ValueTask DisposeAsync()
        {
            App.Dispose();
            if (!_keepData)
            {
                TempDirectory.TryDelete(App.DataDirectory);
            }

            return ValueTask.CompletedTask;
        }

        /// <summary>The repository's release manifests, with the release's uuid policy set.</summary>
        private static string Releases(string data, string policy)
        {
            var directory = Path.Combine(data, "releases");
            Directory.CreateDirectory(directory);
            var yaml = File.ReadAllText(Path.Combine(RepoPaths.Releases, $"{Release}.yaml")).Replace("haos_uuid_policy: regenerate", $"haos_uuid_policy: {policy}", StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(directory, $"{Release}.yaml"), yaml);
            return directory;
        }
    }

    /// <summary>Runs an action (or blocks, like a process that died there) the first time any instance reaches a step.</summary>
    private sealed class OnStep(string step, Action? action = null, bool block = false) : IDeployStepObserver
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task ReachedTask => _reached.Task;

        public bool Reached => _reached.Task.IsCompleted;

        public async Task AfterStepAsync(long instanceId, string reached, CancellationToken ct)
        {
            if (reached != step || !_reached.TrySetResult())
            {
                return;
            }

            action?.Invoke();
            if (block)
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
        }
    }
}
