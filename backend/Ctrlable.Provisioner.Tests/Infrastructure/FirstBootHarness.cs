using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Seeding;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using GuestKind = Ctrlable.Provisioner.Proxmox.GuestKind;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>
/// A boot behaviour connected after the emulator started (the orchestrator it talks to starts second, and may be
/// replaced by a restarted one). A guest that boots while none is connected waits for one, as a real guest's
/// first boot keeps retrying until its orchestrator answers.
/// </summary>
internal sealed class DeferredBootBehaviour : IGuestBootBehaviour
{
    private readonly Lock _gate = new();
    private TaskCompletionSource<IGuestBootBehaviour> _inner = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Guests that boot from now on (and those waiting) run <paramref name="behaviour"/>.</summary>
    public void Connect(IGuestBootBehaviour behaviour)
    {
        lock (_gate)
        {
            if (!_inner.TrySetResult(behaviour))
            {
                _inner = new TaskCompletionSource<IGuestBootBehaviour>(TaskCreationOptions.RunContinuationsAsynchronously);
                _inner.SetResult(behaviour);
            }
        }
    }

    /// <summary>Guests that boot from now on wait for the next <see cref="Connect"/>.</summary>
    public void Disconnect()
    {
        lock (_gate)
        {
            if (_inner.Task.IsCompleted)
            {
                _inner = new TaskCompletionSource<IGuestBootBehaviour>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public async Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<IGuestBootBehaviour> inner;
            lock (_gate)
            {
                inner = _inner.Task;
            }

            try
            {
                await (await inner.WaitAsync(cancellationToken)).RunFirstBootAsync(context, cancellationToken);
                return;
            }
            catch (ObjectDisposedException) when (DisconnectedSince(inner))
            {
                // The orchestrator this boot was handed to was stopped under it: its services (which the behaviour reads
                // the guest's template from) are gone, not the guest. A real guest boots on regardless, so the boot runs
                // again with the orchestrator connected next; the script resumes from the steps it marked done.
            }
        }
    }

    private bool DisconnectedSince(Task<IGuestBootBehaviour> inner)
    {
        lock (_gate)
        {
            return _inner.Task != inner;
        }
    }
}

/// <summary>Plugs the real first boot into tests: guests of the emulator run ctrlable-firstboot.sh against the app.</summary>
internal static class FirstBootGuests
{
    /// <summary>The script behaviour for <paramref name="app"/> (an <c>https: true</c> app): sandboxes in its data directory, the committed script.</summary>
    public static FirstBootScriptBehaviour Behaviour(ProvisionerApp app, FirstBootScriptOptions? options = null) => new(
        Path.Combine(app.DataDirectory, "simulated-guests"),
        FirstBootHarness.ScriptDirectory,
        FirstBootScriptBehaviour.TemplatesOf(app.Services),
        app.Service<ILoggerFactory>().CreateLogger<FirstBootScriptBehaviour>(),
        options);
}

/// <summary>A guest the harness deployed: its instance row, its clone in the emulator, what the assignment service said.</summary>
internal sealed record TestGuest(long Id, string Type, string Hostname, int Vmid, AssignmentSummary Summary);

/// <summary>
/// The pipeline's steps as the harness needs them: when an instance reached a step, and an instance held at
/// <c>starting</c> (cloned and configured, its assignment made, the guest not started) for as long as the app runs.
/// </summary>
internal sealed class PipelineSteps : IDeployStepObserver
{
    private readonly ConcurrentDictionary<(long Instance, string Step), TaskCompletionSource> _reached = new();
    private readonly ConcurrentDictionary<long, byte> _held = new();

    /// <summary>The instance's pipeline stops once it recorded <c>starting</c>; the guest is never started.</summary>
    public void HoldBeforeStart(long instanceId) => _held[instanceId] = 0;

    /// <summary>Completes when the instance's pipeline recorded <paramref name="step"/> (at once if it did already).</summary>
    public Task ReachedAsync(long instanceId, string step) => Signal(instanceId, step).Task;

    public async Task AfterStepAsync(long instanceId, string step, CancellationToken ct)
    {
        Signal(instanceId, step).TrySetResult();
        if (step == InstanceStates.Starting && _held.ContainsKey(instanceId))
        {
            // Until the app stops: its pipeline then ends as at any shutdown, the step recorded.
            await Task.Delay(Timeout.Infinite, ct);
        }
    }

    private TaskCompletionSource Signal(long instanceId, string step) =>
        _reached.GetOrAdd((instanceId, step), _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>
/// The orchestrator on real Kestrel over HTTPS, with the emulator as its Proxmox host holding the release's LXC
/// templates (marked for first boot), the release recorded as built with its first-boot secret, and one project with
/// <see cref="Settings"/>. <see cref="DeployAsync"/> deploys through the product's own pipeline (as
/// <c>POST /api/projects/{id}/instances</c> does): clone, configure (MAC, network, the assignment), start, wait for the
/// first boot. With <c>runScripts</c>, every clone runs the real first-boot script through <see cref="FirstBootScriptBehaviour"/>.
/// </summary>
internal sealed class FirstBootHarness : IAsyncDisposable
{
    public const string Release = "2026.06";
    public const string Slug = "acme";
    public const string Node = "pve1";

    /// <summary>The LXC templates of releases/2026.06.yaml (zwavejs is ProxmoxHarness's 9001).</summary>
    public static readonly IReadOnlyDictionary<string, int> Templates = new Dictionary<string, int>
    {
        [TemplateTypes.ZwaveJs] = ProxmoxHarness.LxcTemplate,
        [TemplateTypes.Zigbee2Mqtt] = 9002,
        [TemplateTypes.DockerPortainer] = 9003,
        [TemplateTypes.Frigate] = 9004,
        [TemplateTypes.FreePbx] = 9005,
    };

    public static readonly IReadOnlyList<string> Types = [.. Templates.Keys];

    /// <summary>Site settings with network coordinators, the default MQTT broker and two cameras.</summary>
    public static readonly SiteSettings Settings = new()
    {
        Zigbee = new CoordinatorSettings { Host = "192.168.1.60", Port = 6638, Adapter = "ember" },
        Zwave = new CoordinatorSettings { Host = "192.168.1.61", Port = 3333 },
        Cameras =
        [
            new CameraSettings { Name = "Front door", StreamUrl = "rtsp://viewer:cam-Secret-1@192.168.1.80:554/stream1" },
            new CameraSettings { Name = "garage", StreamUrl = "rtsp://192.168.1.81/live" },
        ],
    };

    private int _projects;

    private FirstBootHarness(ProxmoxHarness pve, ProvisionerApp app, DeferredBootBehaviour boot, PipelineSteps steps, string releaseSecret, long projectId)
    {
        Pve = pve;
        App = app;
        Boot = boot;
        Steps = steps;
        ReleaseSecret = releaseSecret;
        ProjectId = projectId;
    }

    public ProxmoxHarness Pve { get; }
    public ProvisionerApp App { get; }
    public DeferredBootBehaviour Boot { get; }
    public PipelineSteps Steps { get; }
    public string ReleaseSecret { get; }
    public long ProjectId { get; }
    public string SandboxDirectory => Path.Combine(App.DataDirectory, "simulated-guests");
    public static string ScriptDirectory => Path.Combine(RepoPaths.Root, "host", "firstboot");

    public static async Task<FirstBootHarness> StartAsync(bool runScripts = false, IDictionary<string, string?>? settings = null, FirstBootScriptOptions? scriptOptions = null)
    {
        var boot = new DeferredBootBehaviour();
        var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot);
        foreach (var (name, vmid) in Templates.Where(t => t.Value != ProxmoxHarness.LxcTemplate))
        {
            pve.Sim.AddGuest(new TemplateSeed(vmid, name, SimGuestKind.Lxc, 8, FirstBoot: true) { Pool = "ctrlable-templates", Node = Node });
        }

        var all = ProvisionerApp.ProxmoxSettings(pve);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var steps = new PipelineSteps();
        var app = new ProvisionerApp(settings: all, https: true, services: s => s.AddSingleton<IDeployStepObserver>(steps));
        _ = app.HttpsAddress;
        var ct = CancellationToken.None;
        var now = DateTimeOffset.UtcNow;
        await app.Service<ReleaseRepository>().ActivateAsync(Release, "2026-05-30", "dc355d07bff60c8e7bd3263a9c663c391c91ad89",
            [.. Templates.Select(t => new TemplateRow(0, Release, t.Key, "lxc", t.Value, Node, "2026-05-30", null, null, now))], now, ct);
        var secret = await app.Service<ReleaseSecrets>().IssueAsync(Release, ct);
        var projectId = await CreateProjectAsync(app, "Acme", Slug, Settings);

        if (runScripts)
        {
            boot.Connect(FirstBootGuests.Behaviour(app, scriptOptions));
        }
        else
        {
            boot.Connect(new NoFirstBootBehaviour());
        }

        return new FirstBootHarness(pve, app, boot, steps, secret, projectId);
    }

    /// <summary>A project as the projects API makes it (camera passwords go to the secret store).</summary>
    private static async Task<long> CreateProjectAsync(ProvisionerApp app, string name, string slug, SiteSettings settings)
    {
        var (project, refusal) = await app.Service<ProjectService>().CreateAsync(new CreateProjectRequest(name, slug, settings), CancellationToken.None);
        refusal.Should().BeNull(refusal?.Detail);
        return project!.Id;
    }

    /// <summary>
    /// Deploys one instance of <paramref name="type"/> through the product's pipeline and returns once it waits for its
    /// first boot (the guest started). <paramref name="settings"/>: in a project of its own with these site settings
    /// (default: the harness's project). <paramref name="start"/> false: the pipeline stops once the instance is
    /// configured, its assignment made, and <c>starting</c> recorded — the guest is never started. <paramref name="release"/>:
    /// recorded as cloned from another release (its template is the current one's), as an instance deployed before
    /// an upgrade is.
    /// </summary>
    public async Task<TestGuest> DeployAsync(string type, SiteSettings? settings = null, bool start = true, string? release = null)
    {
        var ct = CancellationToken.None;
        var instances = App.Service<InstanceRepository>();
        var projectId = ProjectId;
        if (settings is not null)
        {
            var n = Interlocked.Increment(ref _projects) + 1;
            projectId = await CreateProjectAsync(App, $"Acme {n}", $"{Slug}-{n}", settings);
        }

        InstanceRow row;
        if (start && release is null)
        {
            // What POST /api/projects/{id}/instances does.
            var (deploy, refusal) = await App.Service<DeployService>().DeployAsync(projectId, [type], "instance", "test", ct);
            refusal.Should().BeNull(refusal?.Detail);
            row = deploy!.Instances.Single();
        }
        else
        {
            // Recorded as the deploy service records it, with the release given; the runner drives it as any other.
            var slug = (await instances.GetProjectAsync(projectId, ct))!.Slug;
            var (_, rows) = await instances.InsertDeployAsync(projectId, slug, "instance", release ?? Release, "test",
                [new NewInstance(type, "lxc", Templates[type], Node, release ?? Release)], ct);
            row = rows.Single();
            if (!start)
            {
                Steps.HoldBeforeStart(row.Id);
            }

            App.Service<DeployRunner>().Enqueue(row.Id);
        }

        var until = Steps.ReachedAsync(row.Id, start ? InstanceStates.Waiting : InstanceStates.Starting);
        var failed = Steps.ReachedAsync(row.Id, InstanceStates.Failed);
        var first = await Task.WhenAny(until, failed).WaitAsync(TimeSpan.FromSeconds(60));
        var deployed = (await instances.GetAsync(row.Id, ct))!;
        first.Should().BeSameAs(until, $"the deploy of {deployed.Hostname} failed: {deployed.Message}: {deployed.Error}");
        var assignment = (await App.Service<AssignmentService>().GetAsync(row.Id, ct))!;
        return new TestGuest(row.Id, type, deployed.Hostname, (int)deployed.Vmid!.Value,
            new AssignmentSummary(assignment.NeedsBinding, AssignmentService.Warnings(assignment)));
    }

    /// <summary>The guest's address once its network is up (what Proxmox reports for eth0).</summary>
    public async Task<IPAddress> AddressOfAsync(TestGuest guest)
    {
        for (var i = 0; i < 200; i++)
        {
            var interfaces = await Pve.Client.GetGuestInterfacesAsync(Node, GuestKind.Lxc, guest.Vmid, CancellationToken.None);
            if (GuestAddressCheck.GuestAddresses(interfaces).FirstOrDefault() is { } address)
            {
                return address;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"guest {guest.Vmid} got no address");
    }

    /// <summary>An HTTPS client calling from the guest's own address.</summary>
    public async Task<HttpClient> GuestClientAsync(TestGuest guest, bool withSecret = true)
    {
        var client = App.CreateHttpsClient(await AddressOfAsync(guest));
        if (withSecret)
        {
            client.DefaultRequestHeaders.Add(ProvisionApi.SecretHeader, ReleaseSecret);
        }

        return client;
    }

    /// <summary>
    /// What the guest's script does first: fetches its assignment with the release secret (the claim: the answer
    /// carries the instance credential), then with that credential (which confirms the claim). Returns a client
    /// from the guest's address sending the credential, the credential and the assignment of the claiming answer.
    /// </summary>
    public async Task<GuestClaim> ClaimAsync(TestGuest guest, IPAddress? from = null)
    {
        using var withSecret = from is null ? await GuestClientAsync(guest) : App.CreateHttpsClient(from);
        if (from is not null)
        {
            withSecret.DefaultRequestHeaders.Add(ProvisionApi.SecretHeader, ReleaseSecret);
        }

        var response = await withSecret.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var assignment = await response.Content.ReadFromJsonAsync<JsonElement>();
        var credential = assignment.GetProperty("instanceCredential").GetString()!;
        var client = from is null ? App.CreateHttpsClient(await AddressOfAsync(guest)) : App.CreateHttpsClient(from);
        client.DefaultRequestHeaders.Add(ProvisionApi.CredentialHeader, credential);
        (await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.OK);
        return new GuestClaim(client, credential, assignment);
    }

    public async Task SetStateAsync(long id, string state)
    {
        await using var connection = await App.Service<Database>().OpenAsync();
        await connection.ExecuteAsync("UPDATE instances SET state = @state WHERE id = @id;", new { id, state });
    }

    public async Task<InstanceSnapshot> InstanceAsync(long id)
    {
        await using var connection = await App.Service<Database>().OpenAsync();
        return await connection.QuerySingleAsync<InstanceSnapshot>("""
            SELECT state AS State, ip AS Ip, error AS Error, needs_binding AS NeedsBinding, firstboot_message AS FirstbootMessage,
                   installed_versions AS InstalledVersions, personalising_at AS PersonalisingAt, completed_at AS CompletedAt
            FROM instances WHERE id = @id;
            """, new { id });
    }

    /// <summary>The first boot's steps in the instance's history: the rows the guest's calls recorded (the deploy's own steps are there too).</summary>
    public async Task<IReadOnlyList<string>> HistoryAsync(long id)
    {
        await using var connection = await App.Service<Database>().OpenAsync();
        return [.. await connection.QueryAsync<string>(
            "SELECT coalesce(from_state, '') || '>' || to_state FROM instance_state_changes WHERE instance_id = @id AND source LIKE 'guest %' ORDER BY id;", new { id })];
    }

    /// <summary>Waits for the instance to reach active or failed (the first boot's end).</summary>
    public async Task<InstanceChange> FinishedAsync(TestGuest guest, TimeSpan? timeout = null) =>
        await App.Service<InstanceChanges>().WaitForAsync(guest.Id, [InstanceStates.Active, InstanceStates.Failed], CancellationToken.None)
            .WaitAsync(timeout ?? TimeSpan.FromSeconds(60));

    public async ValueTask DisposeAsync()
    {
        await Pve.DisposeAsync();
        await App.DisposeAsync();
    }
}

/// <summary>A guest that claimed its assignment: a client sending its instance credential, the credential, the claiming answer.</summary>
internal sealed record GuestClaim(HttpClient Client, string Credential, JsonElement Assignment) : IDisposable
{
    public void Dispose() => Client.Dispose();
}

internal sealed record InstanceSnapshot(
    string State, string? Ip, string? Error, bool NeedsBinding, string? FirstbootMessage, string? InstalledVersions, DateTimeOffset? PersonalisingAt, DateTimeOffset? CompletedAt);
