using System.Text.Json;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.Logging;

namespace Ctrlable.Provisioner.Tests.Provision;

/// <summary>
/// The emulator hook: guests cloned from Ctrlable templates run the real first-boot script on their first start,
/// so a deploy ends in <c>active</c> only when the whole contract works — in tests and in demo mode.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SimulatedFirstBootTests
{
    [Fact]
    public async Task Every_template_type_s_clone_personalises_itself_on_its_first_start()
    {
        await using var h = await FirstBootHarness.StartAsync(runScripts: true);

        var guests = new List<TestGuest>();
        foreach (var type in FirstBootHarness.Types)
        {
            guests.Add(await h.DeployAsync(type));
        }

        foreach (var guest in guests)
        {
            var change = await h.FinishedAsync(guest);
            var instance = await h.InstanceAsync(guest.Id);
            change.To.Should().Be(InstanceStates.Active, $"{guest.Hostname}: {instance.Error} / boot log: {string.Join("; ", h.Pve.Sim.BootLog.Select(b => b.Error))}");
            (await h.HistoryAsync(guest.Id)).Should().Equal("waiting>personalising", "personalising>active");
            instance.Ip.Should().StartWith("127.0.10.", "the call came from the guest's own address");
        }

        // The script disables itself after it reported complete: wait for the runs to end.
        await WaitForBootLogAsync(h.Pve.Sim, guests.Count);
        h.Pve.Sim.BootLog.Should().HaveCount(guests.Count).And.OnlyContain(b => b.Error == null);
        foreach (var guest in guests)
        {
            var root = Path.Combine(h.SandboxDirectory, $"{guest.Vmid}", "root");
            File.Exists(Path.Combine(root, "var/lib/ctrlable/firstboot/done")).Should().BeTrue(guest.Hostname);
            // The first boot is over: the release secret went with it; the instance credential stays, for the upgrade
            // timer every guest runs (and the broker follower of those with an MQTT broker).
            File.Exists(Path.Combine(root, FirstBootEnvironment.GuestPath.TrimStart('/'))).Should().BeFalse(guest.Hostname);
            File.Exists(Path.Combine(root, SimulatedGuestImage.CredentialPath.TrimStart('/'))).Should().BeTrue(guest.Hostname);
        }

        var zigbee = guests.Single(g => g.Type == TemplateTypes.Zigbee2Mqtt);
        var network = (await h.App.Service<AssignmentService>().GetAsync(zigbee.Id, CancellationToken.None))!.Zigbee!.NetworkKey;
        (await File.ReadAllTextAsync(Path.Combine(h.SandboxDirectory, $"{zigbee.Vmid}", "root/opt/zigbee2mqtt/data/configuration.yaml")))
            .Should().Contain($"network_key: [{string.Join(",", network)}]");
    }

    [Fact]
    public async Task A_first_boot_that_keeps_failing_is_restarted_and_its_last_line_lands_in_the_boot_log()
    {
        await using var h = await FirstBootHarness.StartAsync();
        var templates = FirstBootScriptBehaviour.TemplatesOf(h.App.Services);
        // A template built with a secret this orchestrator never issued.
        h.Boot.Connect(new FirstBootScriptBehaviour(h.SandboxDirectory, FirstBootHarness.ScriptDirectory,
            async (context, ct) => await templates(context, ct) is { } t ? t with { Environment = t.Environment with { ReleaseSecret = "not-issued-here" } } : null,
            h.App.Service<ILoggerFactory>().CreateLogger<FirstBootScriptBehaviour>(),
            new FirstBootScriptOptions { Attempts = 2, Restarts = 1, RestartDelay = TimeSpan.FromMilliseconds(50) }));

        var guest = await h.DeployAsync(TemplateTypes.Frigate);
        await WaitForBootLogAsync(h.Pve.Sim, 1);

        var record = h.Pve.Sim.BootLog.Should().ContainSingle().Subject;
        record.Vmid.Should().Be(guest.Vmid);
        record.Error.Should().Contain($"first boot of guest {guest.Vmid} failed with status 1: ctrlable-firstboot: configure: the orchestrator refused the assignment of {guest.Hostname} (403: Denied");
        (await h.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting, "the deploy pipeline's deadline decides when to give up");
        h.App.Logs.Lines.Where(l => l.Contains("First-boot call for " + guest.Hostname, StringComparison.Ordinal)).Should().HaveCount(2, "a refusal is not retried within a run: one call per run, two runs");
    }

    [Fact]
    public async Task Demo_mode_guests_reach_the_orchestrator_over_its_extra_loopback_https_listener()
    {
        // Listening on plain HTTP only, as the demo does by default.
        using var app = new ProvisionerApp(https: true, settings: new Dictionary<string, string?> { ["Urls"] = "http://127.0.0.1:0" });
        var address = app.HttpsAddress;
        address.Host.Should().Be("127.0.0.1");
        var ct = CancellationToken.None;
        var demo = app.Service<SimulatedProxmoxHost>();
        (await app.Service<ReleaseSecrets>().GetAsync(FirstBootHarness.Release, ct)).Should().NotBeNull("demo mode issues its release's first-boot secret");

        // Through the deploy pipeline, as POST /api/projects and POST /api/projects/{id}/instances do.
        var deploys = app.Service<DeployService>();
        var (project, _) = await app.Service<ProjectService>().CreateAsync(new CreateProjectRequest("Demo", "demo", new SiteSettings { Zigbee = new CoordinatorSettings { Host = "10.0.0.9" } }), ct);
        var (deploy, refusal) = await deploys.DeployAsync(project!.Id, [TemplateTypes.Zigbee2Mqtt], "instance", "test", ct);
        refusal.Should().BeNull(refusal?.Detail);
        var instanceId = deploy!.Instances.Single().Id;

        var change = await app.Service<InstanceChanges>().WaitForAsync(instanceId, [InstanceStates.Active, InstanceStates.Failed], ct).WaitAsync(TimeSpan.FromSeconds(90));

        change.To.Should().Be(InstanceStates.Active, string.Join("; ", demo.Simulator.BootLog.Select(b => b.Error)));
        var vmid = (await app.Service<InstanceRepository>().GetAsync(instanceId, ct))!.Vmid;
        var config = await File.ReadAllTextAsync(Path.Combine(app.DataDirectory, "simulated-guests", $"{vmid}", "root/opt/zigbee2mqtt/data/configuration.yaml"));
        config.Should().Contain("port: 'tcp://10.0.0.9:6638'").And.Contain("server: 'mqtt://demo-ctrlable-pro:1883'");
        await using (var connection = await app.Service<Database>().OpenAsync(ct))
        {
            var versions = await connection.QuerySingleAsync<string>("SELECT installed_versions FROM instances WHERE id = @instanceId;", new { instanceId });
            JsonSerializer.Deserialize<Dictionary<string, string>>(versions).Should().Contain("zigbee2mqtt", "2.6.3");
        }
    }

    // Waits on the condition (a run of the real first-boot script, twice, takes seconds on a loaded machine).
    private static Task WaitForBootLogAsync(PveSim.PveSimulator sim, int count) =>
        Eventually.TrueAsync(() => sim.BootLog.Count >= count, $"{count} first boot(s) in the boot log");
}
