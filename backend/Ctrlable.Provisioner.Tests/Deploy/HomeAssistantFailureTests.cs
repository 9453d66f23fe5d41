using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.HaSim;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// Each way the Home Assistant steps of a ctrlable-pro deploy can fail (SPEC §7e), from a real deploy: the add-instance
/// API clones, configures and starts the VM in the demo host's Proxmox emulator, whose Home Assistant emulator then
/// answers (or does not). A test changes the emulators when the pipeline reaches a step (<see cref="StepHooks"/>, awaited
/// by the pipeline, so the change is in place before the step goes on) and checks the state the instance ends in, the
/// reason it gives, that its VM was left as it was and that another admin's guests were not touched. One app and host
/// for the class; each test deploys its own instance in its own project.
/// </summary>
public sealed class HomeAssistantFailureTests(HomeAssistantFailureTests.Fixture fixture) : IClassFixture<HomeAssistantFailureTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        internal StepHooks Hooks { get; } = new();

        internal ProvisionerApp App { get; private set; } = null!;

        internal HttpClient Client { get; private set; } = null!;

        internal PveSimulator Sim => App.Service<SimulatedProxmoxHost>().Simulator;

        internal ForeignGuests.Snapshot Foreign { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var settings = DeployApiTests.FastDemo();
            settings["HomeAssistant:PollIntervalSeconds"] = "0.05";
            settings["HomeAssistant:RequestTimeoutSeconds"] = "5";
            // Bounded, so a broken flow fails within a minute; a test about one deadline shortens only that one.
            foreach (var step in new[] { "Locate", "Prepare", "Restore" })
            {
                settings[$"HomeAssistant:{step}TimeoutSeconds"] = "60";
            }

            App = new ProvisionerApp(settings: settings, services: s => s.AddSingleton<IDeployStepObserver>(Hooks));
            Client = await App.CreateClientAsync(Role.Operator);
            foreach (var seed in ForeignGuests.Seeds("ctrlable"))
            {
                Sim.AddGuest(seed, isTemplate: false);
            }

            Foreign = ForeignGuests.Capture(Sim);
        }

        public Task DisposeAsync()
        {
            Client.Dispose();
            App.Dispose();
            return Task.CompletedTask;
        }
    }

    private const string Release = "2026.06";
    private static int _projects;

    private ProvisionerApp App => fixture.App;

    private PveSimulator Sim => fixture.Sim;

    private StepHooks Hooks => fixture.Hooks;

    // --- locating: from the started VM -----------------------------------------------------------

    [Fact]
    public async Task A_VM_without_a_guest_agent_is_never_found_and_fails_saying_what_to_check()
    {
        await StoreBaseAsync();
        using var deadline = Deadline(o => o.LocateTimeoutSeconds = 1);
        // Cloned and configured, not started yet: as if the template had been built without the QEMU guest agent.
        Hooks.At(InstanceStates.Starting, async id =>
        {
            var vmid = await VmidAsync(id);
            lock (Sim.State.Sync)
            {
                Sim.State.Guests[vmid].Config["agent"] = "0";
            }
        });

        var instance = await FinishedAsync(await DeployAsync());

        await ShouldHaveFailedAsync(instance, "Home Assistant not found");
        instance.Error.Should().StartWith("Waiting for the VM's address (QEMU guest agent) took longer than 1 s.")
            .And.Contain("that its QEMU guest agent is enabled (agent: 1)");
        instance.Ip.Should().BeNull();
        instance.AppUrl.Should().BeNull();
    }

    [Fact]
    public async Task Home_Assistant_not_answering_at_the_VM_s_address_is_never_found_and_the_address_is_kept()
    {
        await StoreBaseAsync();
        using var deadline = Deadline(o => o.LocateTimeoutSeconds = 1);
        // The VM runs and has its address; Home Assistant on it does not answer (Core stopped).
        Hooks.At(InstanceStates.Locating, async id =>
        {
            var vmid = await VmidAsync(id);
            await Eventually.TrueAsync(() => Sim.HomeAssistant(vmid) is not null, "the VM's Home Assistant booted");
            (await Sim.StopAppAsync(vmid)).Should().BeTrue();
        });

        var instance = await FinishedAsync(await DeployAsync());

        await ShouldHaveFailedAsync(instance, "Home Assistant not found");
        var address = Sim.HomeAssistant((int)instance.Vmid!.Value)!.Address.ToString();
        instance.Ip.Should().Be(address, "the address is recorded as soon as the guest agent reports it");
        instance.Error.Should().StartWith($"Waiting for Home Assistant at {address} (ports ").And.Contain("took longer than 1 s.");
        instance.AppUrl.Should().BeNull();
    }

    // --- preparing --------------------------------------------------------------------------------

    [Fact]
    public async Task Home_Assistant_that_stays_on_its_landing_page_is_never_ready_and_nothing_is_uploaded()
    {
        await StoreBaseAsync();
        using var deadline = Deadline(o => o.PrepareTimeoutSeconds = 1);
        // Located; then Supervisor shows "Preparing Home Assistant" for good (Core cannot be downloaded).
        Hooks.At(InstanceStates.Preparing, async id =>
        {
            var ha = await HomeAssistantAsync(id);
            ha.RestartCore(TimeSpan.Zero, landing: TimeSpan.FromHours(1));
            await ha.WaitForPhaseAsync(HaPhase.Landing);
        });

        var instance = await FinishedAsync(await DeployAsync());

        await ShouldHaveFailedAsync(instance, "Home Assistant did not get ready");
        instance.Error.Should().Contain("was still not ready (preparing (landing page)) after 1 s").And.Contain("check the VM's console and its internet access");
        instance.AppUrl.Should().NotBeNull("it was located");
        HomeAssistantOf(instance).State.UploadedBackups.Should().BeEmpty();
    }

    // --- restoring --------------------------------------------------------------------------------

    [Fact]
    public async Task A_restore_Home_Assistant_reports_failed_fails_with_its_reason_and_a_retry_restores_it()
    {
        await StoreBaseAsync();
        Hooks.At(InstanceStates.Restoring, async id => (await HomeAssistantAsync(id)).FailNextRestore("Supervisor could not read the backup"));

        var id = await DeployAsync();
        var instance = await FinishedAsync(id);

        await ShouldHaveFailedAsync(instance, "Restoring the base backup failed");
        instance.Error.Should().StartWith("Home Assistant could not restore the base backup (Supervisor could not read the backup). Retry the instance;");
        var ha = HomeAssistantOf(instance);
        ha.State.RestoredBackupId.Should().BeNull();

        // As the error says: a retry asks for the restore again (Home Assistant still reports the failed one).
        (await fixture.Client.PostAsync($"/api/instances/{id}/retry", null)).StatusCode.Should().Be(HttpStatusCode.OK);
        var retried = await FinishedAsync(id);

        retried.State.Should().Be(InstanceStates.Active, retried.Error);
        ha.State.RestoredBackupId.Should().NotBeNull();
        ha.State.UploadedBackups.Should().ContainSingle("the uploaded copy is restored again, not uploaded again");
        fixture.Foreign.ShouldBeUntouched(Sim);
    }

    [Fact]
    public async Task Home_Assistant_powered_off_mid_restore_never_comes_back_fails_timed_out_and_a_retry_once_it_is_on_finishes()
    {
        await StoreBaseAsync();
        HomeAssistantHolder holder = new();
        // The backup integration loaded first, so the restore is asked for at once; then the VM goes dark for good.
        Hooks.At(InstanceStates.Restoring, async id => await (holder.Ha = await HomeAssistantAsync(id)).WaitForPhaseAsync(HaPhase.Running));
        Hooks.At(HomeAssistantSetup.RestoreRequested, async id =>
        {
            await holder.Ha!.PowerOffAsync();
            await EndRestoreTimeAsync(id);
        });

        var id = await DeployAsync();
        var instance = await FinishedAsync(id);

        await ShouldHaveFailedAsync(instance, "Restoring the base backup timed out");
        instance.Error.Should().Be($"Home Assistant at {instance.AppUrl} did not come back restored within 60 s (not answering).");

        holder.Ha!.PowerOn();
        (await fixture.Client.PostAsync($"/api/instances/{id}/retry", null)).StatusCode.Should().Be(HttpStatusCode.OK);
        var retried = await FinishedAsync(id);

        retried.State.Should().Be(InstanceStates.Active, retried.Error);
        holder.Ha.State.UploadedBackups.Should().ContainSingle();
        holder.Ha.State.Boots.Should().Be(3, "Core started, came back from the one restore, and started again after the power cut");
        fixture.Foreign.ShouldBeUntouched(Sim);
    }

    [Fact]
    public async Task A_restore_that_outlasts_its_deadline_fails_timed_out()
    {
        await StoreBaseAsync();
        // Supervisor takes an hour to bring Core back (as while it updates Core to the backup's version); the step's time
        // ends once Core is down for it (ended at the request, a request in flight as Core stops would fail otherwise).
        HomeAssistantHolder holder = new();
        Hooks.At(InstanceStates.Restoring, async id =>
        {
            holder.Ha = await HomeAssistantAsync(id);
            await holder.Ha.WaitForPhaseAsync(HaPhase.Running);
            holder.Ha.SlowNextRestore(TimeSpan.FromHours(1));
        });
        Hooks.At(HomeAssistantSetup.RestoreRequested, async id =>
        {
            await holder.Ha!.WaitForPhaseAsync(HaPhase.Down);
            await EndRestoreTimeAsync(id);
        });

        var instance = await FinishedAsync(await DeployAsync());

        await ShouldHaveFailedAsync(instance, "Restoring the base backup timed out");
        instance.Error.Should().Be($"Home Assistant at {instance.AppUrl} did not come back restored within 60 s (not answering).");
        HomeAssistantOf(instance).State.UploadedBackups.Should().ContainSingle("the restore was asked for");
    }

    // --- securing ---------------------------------------------------------------------------------

    [Fact]
    public async Task A_base_backup_whose_user_is_not_the_owner_fails_signing_in_and_changes_nothing()
    {
        // An admin who is not the owner may sign in but not set the owner's password. (An upload is refused such a backup;
        // this one was stored without that check.)
        var backup = HaBaseBackup.CreateBackup(TestBaseBackup.Spec());
        var config = HaConfig.FromFiles(backup.ConfigFiles);
        var installer = new HaUser(HaConfig.NewId(), "Installer", IsOwner: false, IsActive: true, SystemGenerated: false, LocalOnly: false, [HaUser.AdminGroup]);
        config.Users.Add(installer);
        config.Credentials.Add(new HaCredential(HaConfig.NewId(), installer.Id, "installer"));
        config.Passwords["installer"] = HaConfig.HashPassword("installer-password", 5);
        await StoreBaseAsync(backup.WithConfig(config).Write(null), new HaBaseCredentials("installer", "installer-password"));

        var instance = await FinishedAsync(await DeployAsync());

        await ShouldHaveFailedAsync(instance, "Failed while signing in to Home Assistant");
        instance.Error.Should().StartWith("The base backup's user 'installer' is not Home Assistant's owner;");
        var state = HomeAssistantOf(instance).State;
        state.PasswordMatches(TestBaseBackup.AdminUser, TestBaseBackup.AdminPassword).Should().BeTrue("the owner's password is left as it was");
        state.Credentials.Should().NotContain(c => c.Username == HomeAssistantSetup.OrchestratorUsername);
        state.Users.Select(u => u.Id).Should().BeEquivalentTo(config.Users.Select(u => u.Id), "no user is added");
        state.RefreshTokens.Should().OnlyContain(t => t.TokenType == HaRefreshToken.System, "the sign-in's own session is removed again");
    }

    [Fact]
    public async Task Wrong_base_credentials_fail_signing_in_after_two_attempts_at_most()
    {
        await StoreBaseAsync(credentials: new HaBaseCredentials(TestBaseBackup.AdminUser, "not-the-base-password"));

        var instance = await FinishedAsync(await DeployAsync());

        await ShouldHaveFailedAsync(instance, "Failed while signing in to Home Assistant");
        instance.Error.Should().Be($"Home Assistant refused the base credentials of release {Release} (user '{TestBaseBackup.AdminUser}'): the base backup's owner has another password than the one stored with the release.");
        var ha = HomeAssistantOf(instance);
        ha.FailedLogins.Should().Be(2, "the base password, then the per-site one (a change whose record was lost): failed sign-ins count towards an IP ban");
        ha.State.PasswordMatches(TestBaseBackup.AdminUser, TestBaseBackup.AdminPassword).Should().BeTrue();
        ha.State.Credentials.Should().NotContain(c => c.Username == HomeAssistantSetup.OrchestratorUsername);
    }

    // --- wiring -----------------------------------------------------------------------------------

    [Fact]
    public async Task A_config_flow_that_never_finishes_stops_after_12_steps_and_is_not_left_half_way()
    {
        await StoreBaseAsync();
        Hooks.At(InstanceStates.Wiring, async id => (await HomeAssistantAsync(id)).NeverFinishConfigFlows("mqtt"));

        var instance = await FinishedAsync(await DeployAsync());

        var ha = HomeAssistantOf(instance);
        ha.ConfigFlowsInProgress.Should().BeEmpty("the flow is aborted, not left in Home Assistant");
        await ShouldHaveFailedAsync(instance, "Failed while wiring services into Home Assistant");
        instance.Error.Should().Be("Home Assistant's MQTT setup did not finish within 12 steps (the last was form broker); the orchestrator stopped it.");
        ha.State.ConfigEntries.Should().NotContain(e => e.Domain == "mqtt");
    }

    // --- Harness ----------------------------------------------------------------------------------

    /// <summary>The release's base backup (default: <see cref="TestBaseBackup.Spec"/>) with its credentials, replacing the last test's.</summary>
    private Task StoreBaseAsync(byte[]? backup = null, HaBaseCredentials? credentials = null)
    {
        Hooks.Clear();
        return TestBaseBackup.StoreAsync(App, Release, backup, replace: true, credentials: credentials);
    }

    /// <summary>A project of its own and its ctrlable-pro through the add-instance API; returns the instance's id.</summary>
    private async Task<long> DeployAsync()
    {
        var project = await DeployApiTests.CreateProjectAsync(fixture.Client, $"Failing Haus {Interlocked.Increment(ref _projects)}");
        var response = await fixture.Client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = TemplateTypes.CtrlablePro });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("instances")[0].GetProperty("id").GetInt64();
    }

    private async Task<InstanceRow> FinishedAsync(long id)
    {
        InstanceRow? row = null;
        await Eventually.TrueAsync(async () => (row = await App.Service<InstanceRepository>().GetAsync(id, CancellationToken.None))!.IsFinished,
            $"instance {id} active or failed", TimeSpan.FromSeconds(90));
        return row!;
    }

    /// <summary>Failed with <paramref name="message"/>, its VM left running as it was (to look at, or to retry), nothing else touched.</summary>
    private async Task ShouldHaveFailedAsync(InstanceRow instance, string message)
    {
        instance.State.Should().Be(InstanceStates.Failed, instance.Message);
        instance.Message.Should().Be(message, instance.Error);
        instance.Error.Should().NotBeNullOrWhiteSpace();
        var status = await App.Service<ProxmoxClient>().GetGuestStatusAsync(SimulatedProxmoxHost.NodeName, GuestKind.Qemu, (int)instance.Vmid!.Value, CancellationToken.None);
        status.Status.Should().Be("running", "a failed Home Assistant step stops or destroys nothing");
        fixture.Foreign.ShouldBeUntouched(Sim);
        App.Logs.Lines.Should().Contain(l => l.Contains($"Instance {instance.Id} ", StringComparison.Ordinal) && l.Contains("failed", StringComparison.Ordinal));
    }

    private async Task<int> VmidAsync(long instanceId) =>
        (int)(await App.Service<InstanceRepository>().GetAsync(instanceId, CancellationToken.None))!.Vmid!.Value;

    private async Task<HaSimulator> HomeAssistantAsync(long instanceId) => Sim.HomeAssistant(await VmidAsync(instanceId))!;

    private HaSimulator HomeAssistantOf(InstanceRow instance) => Sim.HomeAssistant((int)instance.Vmid!.Value)!;

    /// <summary>
    /// Ends the restore step's time now, once the test's emulator is where the test wants it. A deadline of a second set at
    /// the step's start raced the emulator's own work (uploading the backup and powering off took about 0.9 s on an idle
    /// machine); the step reads its recorded deadline each round, so this lands exactly where the test is.
    /// </summary>
    private async Task EndRestoreTimeAsync(long instanceId) =>
        await App.Service<InstanceRepository>().SetDeadlineAsync(instanceId, App.Service<TimeProvider>().GetUtcNow(), CancellationToken.None);

    /// <summary>
    /// Shortens a step's deadline for the test about it. The options object is the app's own (IOptions keeps one) and the
    /// tests of a class run one at a time, so no other deploy sees the change; it is put back afterwards.
    /// </summary>
    private IDisposable Deadline(Action<HomeAssistantOptions> shorten)
    {
        var options = App.Service<IOptions<HomeAssistantOptions>>().Value;
        var before = (options.LocateTimeoutSeconds, options.PrepareTimeoutSeconds, options.RestoreTimeoutSeconds);
        shorten(options);
        return new Restore(() => (options.LocateTimeoutSeconds, options.PrepareTimeoutSeconds, options.RestoreTimeoutSeconds) = before);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    private sealed class HomeAssistantHolder
    {
        public HaSimulator? Ha { get; set; }
    }
}
