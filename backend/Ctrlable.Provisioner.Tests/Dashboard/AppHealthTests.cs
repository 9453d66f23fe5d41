using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.HaSim;
using Ctrlable.HaSim.State;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Dashboard;

/// <summary>
/// The dashboard's shared poll probes the app of every running, active instance (HTTP status or TCP connect) and keeps
/// since when it is up or down; the emulated guests' apps are stopped and started while the guests keep running.
/// </summary>
public sealed class AppHealthTests
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Simulator:TimingScale"] = "0.02",
        // A fresh poll for every request, so the test sees each change at the next read.
        ["Dashboard:CacheSeconds"] = "0.01",
    };

    [Fact]
    public async Task An_app_that_stops_while_its_guest_runs_shows_down_since_then_and_up_again_once_it_answers()
    {
        using var app = new ProvisionerApp(settings: Settings);
        using var client = await app.CreateClientAsync(Role.Viewer);
        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        var address = await RunningGuestAsync(sim, 300, SimGuestKind.Lxc, TemplateTypes.ZwaveJs);
        await ActiveInstanceAsync(app, TemplateTypes.ZwaveJs, 300, address);
        var port = sim.AppPorts![TemplateTypes.ZwaveJs];

        var up = await AppOfAsync(client, 300, "up");
        up.GetProperty("detail").GetString().Should().Be("HTTP 200");
        up.GetProperty("target").GetString().Should().Be($"http://{address}:{port}/");

        (await sim.StopAppAsync(300)).Should().BeTrue();
        var (card, down) = await CardAsync(client, 300, "down");
        card.GetProperty("status").GetString().Should().Be("running", "the guest runs; only its app is down");
        down.GetProperty("detail").GetString().Should().Be("connection refused");
        down.GetProperty("since").GetDateTimeOffset().Should().BeOnOrAfter(up.GetProperty("checkedAt").GetDateTimeOffset());

        // Down stays down "since" the first probe that saw it.
        var stillDown = await AppOfAsync(client, 300, "down", after: down.GetProperty("checkedAt").GetDateTimeOffset());
        stillDown.GetProperty("since").GetDateTimeOffset().Should().Be(down.GetProperty("since").GetDateTimeOffset());

        sim.StartApp(300).Should().BeTrue();
        var again = await AppOfAsync(client, 300, "up");
        again.GetProperty("since").GetDateTimeOffset().Should().BeOnOrAfter(down.GetProperty("checkedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task Portainer_is_probed_by_a_tcp_connect_and_a_stopped_guest_or_a_deploying_instance_is_not_probed()
    {
        using var app = new ProvisionerApp(settings: Settings);
        using var client = await app.CreateClientAsync(Role.Viewer);
        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        var portainer = await RunningGuestAsync(sim, 301, SimGuestKind.Lxc, TemplateTypes.DockerPortainer);
        await ActiveInstanceAsync(app, TemplateTypes.DockerPortainer, 301, portainer);
        var zigbee = await RunningGuestAsync(sim, 302, SimGuestKind.Lxc, TemplateTypes.Zigbee2Mqtt);
        await ActiveInstanceAsync(app, TemplateTypes.Zigbee2Mqtt, 302, zigbee, state: InstanceStates.Personalising);

        var tcp = await AppOfAsync(client, 301, "up");
        tcp.GetProperty("detail").GetString().Should().Be($"port {sim.AppPorts![TemplateTypes.DockerPortainer]} open");
        tcp.GetProperty("target").GetString().Should().Be($"{portainer}:{sim.AppPorts[TemplateTypes.DockerPortainer]}");
        (await CardAsync(client, 302)).App.ValueKind.Should().Be(JsonValueKind.Null, "an instance still on its first boot is not probed");

        (await sim.StopAppAsync(301)).Should().BeTrue();
        (await AppOfAsync(client, 301, "down")).GetProperty("detail").GetString().Should().Be("connection refused");

        using var admin = sim.CreateClient(Sims.AdminToken(sim));
        (await admin.PostAsync("nodes/pve/lxc/301/status/stop", null)).EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await CardAsync(client, 301)) is { Card: var c, App.ValueKind: JsonValueKind.Null } && c.GetProperty("status").GetString() == "stopped",
            "the stopped guest's card, not probed");
    }

    [Fact]
    public async Task Home_assistant_is_probed_at_its_located_url_and_is_down_while_core_is_stopped()
    {
        await using var ha = await HaSimulator.StartAsync(new HaSimOptions { Address = "127.0.32.10", LandingDuration = TimeSpan.Zero });
        await ha.WaitForPhaseAsync(HaPhase.Running);
        using var app = new ProvisionerApp(settings: Settings);
        using var client = await app.CreateClientAsync(Role.Viewer);
        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        // A running VM without the emulator inside; the instance's located URL points at the Home Assistant above.
        var address = await RunningGuestAsync(sim, 303, SimGuestKind.Qemu, TemplateTypes.CtrlablePro);
        var id = await ActiveInstanceAsync(app, TemplateTypes.CtrlablePro, 303, address);
        await app.Service<InstanceTransitions>().SetAppUrlAsync(id, ha.BaseAddress.ToString(), CancellationToken.None);

        var up = await AppOfAsync(client, 303, "up");
        up.GetProperty("target").GetString().Should().Be(ha.BaseAddress.ToString());

        await ha.PowerOffAsync();
        (await AppOfAsync(client, 303, "down")).GetProperty("detail").GetString().Should().Be("connection refused");
        ha.PowerOn();
        await AppOfAsync(client, 303, "up");
    }

    // --- Harness ----------------------------------------------------------------------------------

    /// <summary>A guest as a deploy leaves it (tagged with its type, in the product's pool), started; returns its address.</summary>
    private static async Task<string> RunningGuestAsync(PveSimulator sim, int vmid, SimGuestKind kind, string type)
    {
        sim.AddGuest(new TemplateSeed(vmid, $"site-{type}", kind) { Running = true, Pool = "ctrlable", Node = "pve", Tags = ["ctrlable", type, "release-2026.06"] }, isTemplate: false);
        string? address = null;
        await Eventually.TrueAsync(() =>
        {
            lock (sim.State.Sync)
            {
                address = sim.State.Guest(vmid) is { NetworkUp: true, Address: { } a } ? a.ToString() : null;
            }

            return address is not null;
        }, $"guest {vmid} has its address");
        return address!;
    }

    private static async Task<long> ActiveInstanceAsync(ProvisionerApp app, string type, int vmid, string ip, string state = InstanceStates.Active)
    {
        var ct = CancellationToken.None;
        var instances = app.Service<InstanceRepository>();
        var project = (await instances.GetProjectAsync(1, ct)) ?? (await instances.InsertProjectAsync("Site", "site", "{}", ct))!;
        var (_, rows) = await instances.InsertDeployAsync(project.Id, "site", "instance", "2026.06", null,
            [new NewInstance(type, type == TemplateTypes.CtrlablePro ? "vm" : "lxc", 9001, "pve", "2026.06")], ct);
        var id = rows[0].Id;
        await app.Service<InstanceTransitions>().SetStateAsync(id, state, "Running (test)", ct: ct);
        (await instances.TryReserveVmidAsync(id, vmid, ct)).Should().BeTrue();
        await instances.SetIpAsync(id, ip, ct);
        return id;
    }

    private static async Task<(JsonElement Card, JsonElement App)> CardAsync(HttpClient client, int vmid)
    {
        var dashboard = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");
        var card = dashboard.GetProperty("projects").EnumerateArray().SelectMany(p => p.GetProperty("guests").EnumerateArray())
            .Single(g => g.GetProperty("vmid").GetInt32() == vmid);
        return (card, card.GetProperty("app"));
    }

    private static async Task<(JsonElement Card, JsonElement App)> CardAsync(HttpClient client, int vmid, string state)
    {
        (JsonElement Card, JsonElement App) found = default;
        await Eventually.TrueAsync(async () =>
        {
            found = await CardAsync(client, vmid);
            return found.App.ValueKind == JsonValueKind.Object && found.App.GetProperty("state").GetString() == state;
        }, $"guest {vmid}'s card with its app {state}");
        return found;
    }

    private static async Task<JsonElement> AppOfAsync(HttpClient client, int vmid, string state, DateTimeOffset? after = null)
    {
        JsonElement app = default;
        await Eventually.TrueAsync(async () =>
        {
            app = (await CardAsync(client, vmid)).App;
            return app.ValueKind == JsonValueKind.Object && app.GetProperty("state").GetString() == state
                && (after is null || app.GetProperty("checkedAt").GetDateTimeOffset() > after);
        }, $"guest {vmid}'s app {state}");
        return app;
    }

    private static class Sims
    {
        public static Ctrlable.PveSim.Auth.ApiTokenCredentials AdminToken(PveSimulator sim)
        {
            lock (sim.State.Sync)
            {
                var user = sim.State.Access.Users.Values.First(u => u.Tokens.Count > 0);
                var token = user.Tokens.Values.First();
                return new Ctrlable.PveSim.Auth.ApiTokenCredentials($"{user.UserId}!{token.Name}", token.Secret);
            }
        }
    }
}
