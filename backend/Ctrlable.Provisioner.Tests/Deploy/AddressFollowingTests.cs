using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Guests;
using Dapper;
using YamlDotNet.RepresentationModel;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// Under DHCP the router may give a guest another address. The orchestrator follows the guests of DHCP sites
/// (<see cref="AddressFollower"/>): it records the new address and re-wires what used the old one — Home Assistant's
/// Z-Wave JS and Frigate entries, Home Assistant's own URL; guests that hold a moved Home Assistant's address (their
/// MQTT broker) follow it themselves, older ones are told what to change. Static plans, sites whose DNS serves the
/// guests' names, and guests that are not the instance's are never followed.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class AddressFollowingTests
{
    private static Dictionary<string, string?> Following(double intervalSeconds)
    {
        var settings = DeployApiTests.FastDemo();
        settings["Addressing:FollowIntervalSeconds"] = intervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return settings;
    }

    [Fact]
    public async Task A_moved_ZWave_JS_and_Frigate_get_their_one_Home_Assistant_entry_pointed_at_their_new_address()
    {
        using var app = new ProvisionerApp(settings: Following(1), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Lease Haus");
        var done = await DeployAsync(client, project, "ctrlable-pro", "zwavejs", "frigate");
        var (pro, zwave, frigate) = (Of(done, "ctrlable-pro"), Of(done, "zwavejs"), Of(done, "frigate"));
        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        var ha = sim.HomeAssistant(Vmid(pro))!;
        var before = ha.State.ConfigEntries;
        var zwaveEntry = before.Single(e => e.Domain == "zwave_js").EntryId;
        var frigateEntry = before.Single(e => e.Domain == "frigate").EntryId;
        var mqttEntry = before.Single(e => e.Domain == "mqtt").EntryId;

        sim.ChangeLease(Vmid(zwave), IPAddress.Parse("127.0.10.210")).Should().Be(LeaseChange.Changed);
        sim.ChangeLease(Vmid(frigate), IPAddress.Parse("127.0.10.211")).Should().Be(LeaseChange.Changed);

        var rows = app.Service<InstanceRepository>();
        await Eventually.TrueAsync(async () =>
        {
            var entries = ha.State.ConfigEntries;
            var home = await rows.GetAsync(Id(pro), CancellationToken.None);
            return home!.State == InstanceStates.Active
                && entries.Any(e => e.Domain == "zwave_js" && e.Data["url"]!.GetValue<string>() == "ws://127.0.10.210:3000")
                && entries.Any(e => e.Domain == "frigate" && e.Data["url"]!.GetValue<string>() == "http://127.0.10.211:5000")
                && (await app.Service<HomeAssistantRepository>().ListWiringAsync(Id(pro), CancellationToken.None)).Count(w => w.Target.Contains("127.0.10.21", StringComparison.Ordinal)) == 2;
        }, "Home Assistant's entries follow the moved services", TimeSpan.FromSeconds(90));

        var after = ha.State.ConfigEntries;
        after.Where(e => e.Domain == "zwave_js").Should().ContainSingle("zwave_js updates the entry of the same home id; it does not add a second")
            .Which.EntryId.Should().Be(zwaveEntry);
        var newFrigate = after.Should().ContainSingle(e => e.Domain == "frigate", "Frigate's recorded entry was replaced, not joined by a second").Subject;
        newFrigate.EntryId.Should().NotBe(frigateEntry, "Frigate's flow cannot update a URL: the recorded entry was deleted and set up again");
        after.Single(e => e.Domain == "mqtt").EntryId.Should().Be(mqttEntry, "the broker did not move");

        var wiring = await app.Service<HomeAssistantRepository>().ListWiringAsync(Id(pro), CancellationToken.None);
        wiring.Single(w => w.Domain == "zwave_js").Should().Match<HomeAssistantWiring>(w => w.Target == "ws://127.0.10.210:3000" && w.EntryId == zwaveEntry && w.SourceInstanceId == Id(zwave));
        wiring.Single(w => w.Domain == "frigate").Should().Match<HomeAssistantWiring>(w => w.Target == "http://127.0.10.211:5000" && w.EntryId == newFrigate.EntryId && w.SourceInstanceId == Id(frigate));

        (await rows.GetAsync(Id(zwave), CancellationToken.None))!.Ip.Should().Be("127.0.10.210");
        (await rows.GetAsync(Id(frigate), CancellationToken.None))!.Ip.Should().Be("127.0.10.211");
        (await HistoryAsync(app, Id(zwave))).Should().Contain($"active>active: Address changed from {Ip(zwave)} to 127.0.10.210 (its DHCP lease)");
        var home = (await rows.GetAsync(Id(pro), CancellationToken.None))!;
        home.Error.Should().BeNull();
        home.Ip.Should().Be(Ip(pro), "Home Assistant itself did not move");
    }

    [Fact]
    public async Task A_moved_Home_Assistant_is_found_again_and_its_guests_follow_their_broker_or_are_told_what_to_change()
    {
        using var app = new ProvisionerApp(settings: Following(1), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Moving Haus");
        var done = await DeployAsync(client, project, "ctrlable-pro", "zigbee2mqtt", "frigate");
        var (pro, zigbee, frigate) = (Of(done, "ctrlable-pro"), Of(done, "zigbee2mqtt"), Of(done, "frigate"));
        var host = app.Service<SimulatedProxmoxHost>();
        var entries = host.Simulator.HomeAssistant(Vmid(pro))!.State.ConfigEntries;
        // The frigate guest stands for one cloned from a template built before broker following (first-boot script 2).
        await using (var connection = await app.Service<Database>().OpenAsync())
        {
            await connection.ExecuteAsync("UPDATE instances SET installed_versions = '{\"firstboot\":\"2\"}' WHERE id = @id;", new { id = Id(frigate) });
        }

        host.Simulator.ChangeLease(Vmid(pro), IPAddress.Parse("127.0.10.220")).Should().Be(LeaseChange.Changed);

        var rows = app.Service<InstanceRepository>();
        await Eventually.TrueAsync(async () =>
            (await rows.GetAsync(Id(pro), CancellationToken.None))!.AppUrl?.StartsWith("http://127.0.10.220:", StringComparison.Ordinal) == true
            && (await rows.GetAsync(Id(frigate), CancellationToken.None))!.Error is not null, "Home Assistant is found at its new address", TimeSpan.FromSeconds(90));

        var moved = (await rows.GetAsync(Id(pro), CancellationToken.None))!;
        moved.Ip.Should().Be("127.0.10.220");
        moved.State.Should().Be(InstanceStates.Active);
        (await app.Service<HomeAssistantRepository>().FindAsync(Id(pro), CancellationToken.None))!.Url.Should().Be(moved.AppUrl);
        using (var http = new HttpClient())
        {
            (await http.GetAsync(new Uri(new Uri(moved.AppUrl!), "auth/providers"))).IsSuccessStatusCode.Should().BeTrue("Home Assistant answers at the recorded URL");
        }

        (await HistoryAsync(app, Id(pro))).Should().Contain($"active>active: Address changed from {Ip(pro)} to 127.0.10.220 (its DHCP lease)");
        host.Simulator.HomeAssistant(Vmid(pro))!.State.ConfigEntries.Select(e => e.EntryId).Should().Equal(entries.Select(e => e.EntryId),
            "Home Assistant's own entries point at core-mosquitto and the services, which did not move");

        // The old guest is told, by name, what to change; it keeps running.
        var old = (await rows.GetAsync(Id(frigate), CancellationToken.None))!;
        old.State.Should().Be(InstanceStates.Active);
        old.Error.Should().Contain($"moved from {Ip(pro)} to 127.0.10.220").And.Contain(old.Hostname)
            .And.Contain("set mqtt.host to 127.0.10.220 in /config/config.yml and restart frigate, or redeploy the instance");

        // The zigbee2mqtt guest (first-boot script 3) needs no word: its timer asks the orchestrator and follows.
        (await rows.GetAsync(Id(zigbee), CancellationToken.None))!.Error.Should().BeNull();
        var (status, lastError) = await host.FirstBoot.RunBrokerFollowAsync(Vmid(zigbee), IPAddress.Parse(Ip(zigbee)), CancellationToken.None);
        status.Should().Be(0, lastError);
        var root = Path.Combine(app.DataDirectory, "simulated-guests", $"{Vmid(zigbee)}", "root");
        Scalar(Path.Combine(root, "opt/zigbee2mqtt/data/configuration.yaml"), "mqtt", "server").Should().Be("mqtt://127.0.10.220:1883");
        (await File.ReadAllLinesAsync(Path.Combine(root, "..", "log", "calls.log"))).Where(c => c == "systemctl restart zigbee2mqtt.service").Should().HaveCount(2,
            "restarted once by its first boot and once to reach the moved broker");
    }

    [Fact]
    public async Task Static_plans_and_sites_whose_DNS_serves_the_names_are_not_followed()
    {
        using var app = new ProvisionerApp(settings: Following(0), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var dhcp = await DeployApiTests.CreateProjectAsync(client, "Dhcp Haus");
        var named = await CreateProjectAsync(client, "Named Haus", new { mode = "dhcp", dnsServesHostnames = true });
        var planned = await CreateProjectAsync(client, "Planned Haus", new
        {
            mode = "static",
            network = "127.0.43.0/24",
            range = "127.0.43.16/28",
            gateway = "127.0.43.1",
            dnsServers = new[] { "127.0.43.1" },
        });
        var followed = Of(await DeployAsync(client, dhcp, "zwavejs"), "zwavejs");
        var byName = Of(await DeployAsync(client, named, "zwavejs"), "zwavejs");
        var byPlan = Of(await DeployAsync(client, planned, "zwavejs"), "zwavejs");
        var sim = app.Service<SimulatedProxmoxHost>().Simulator;

        sim.ChangeLease(Vmid(followed), IPAddress.Parse("127.0.10.230")).Should().Be(LeaseChange.Changed);
        sim.ChangeLease(Vmid(byName), IPAddress.Parse("127.0.10.231")).Should().Be(LeaseChange.Changed);
        sim.ChangeLease(Vmid(byPlan), IPAddress.Parse("127.0.10.232")).Should().Be(LeaseChange.Static, "a static address is not DHCP's to move");

        var round = await app.Service<AddressFollower>().FollowOnceAsync(CancellationToken.None);

        round.Checked.Should().Equal([Id(followed)], "only the DHCP site reached by address is looked at: no Proxmox request for the others");
        round.Moved.Should().ContainSingle().Which.Should().Be(new AddressMove(Id(followed), followed.GetProperty("hostname").GetString()!, "zwavejs", Ip(followed), "127.0.10.230"));
        var rows = app.Service<InstanceRepository>();
        (await rows.GetAsync(Id(byName), CancellationToken.None))!.Ip.Should().Be(Ip(byName), "the site reaches it by name: nothing to follow");
        (await rows.GetAsync(Id(byPlan), CancellationToken.None))!.Ip.Should().Be(Ip(byPlan));
        (await HistoryAsync(app, Id(byName))).Should().NotContain(h => h.StartsWith("active>active", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_guest_at_the_VMID_that_is_not_the_instance_s_is_not_followed()
    {
        using var app = new ProvisionerApp(settings: Following(0), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Foreign Haus");
        var zwave = Of(await DeployAsync(client, project, "zwavejs"), "zwavejs");
        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        string description;
        lock (sim.State.Sync)
        {
            // Someone replaced the guest, or rewrote its description: it no longer carries the instance's marker.
            var guest = sim.State.Guests[Vmid(zwave)];
            guest.Config["description"] = "an admin's own container";
            description = guest.Config["description"];
        }

        sim.ChangeLease(Vmid(zwave), IPAddress.Parse("127.0.10.240")).Should().Be(LeaseChange.Changed);

        var round = await app.Service<AddressFollower>().FollowOnceAsync(CancellationToken.None);

        round.Checked.Should().Equal([Id(zwave)]);
        round.Moved.Should().BeEmpty();
        (await app.Service<InstanceRepository>().GetAsync(Id(zwave), CancellationToken.None))!.Ip.Should().Be(Ip(zwave));
        app.Logs.Lines.Should().Contain(l => l.Contains($"VMID {Vmid(zwave)} reports 127.0.10.240, but the guest there lacks the instance's marker", StringComparison.Ordinal));
        lock (sim.State.Sync)
        {
            sim.State.Guests[Vmid(zwave)].Config["description"].Should().Be(description, "the guest is left alone");
        }
    }

    // --- Helpers --------------------------------------------------------------------------------

    private static async Task<List<JsonElement>> DeployAsync(HttpClient client, long project, params string[] types)
    {
        (await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var done = await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromMinutes(3));
        done.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", done.Select(i => $"{i.GetProperty("hostname")}: {i.GetProperty("error")}")));
        return done;
    }

    private static async Task<long> CreateProjectAsync(HttpClient client, string name, object addressing)
    {
        var response = await client.PostAsJsonAsync("/api/projects", new { name, settings = new { zigbee = new { host = "192.168.1.50" }, zwave = new { host = "192.168.1.51", port = 3333 }, addressing } });
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static JsonElement Of(IEnumerable<JsonElement> instances, string type) => instances.Single(i => i.GetProperty("type").GetString() == type);

    private static long Id(JsonElement instance) => instance.GetProperty("id").GetInt64();

    private static int Vmid(JsonElement instance) => instance.GetProperty("vmid").GetInt32();

    private static string Ip(JsonElement instance) => instance.GetProperty("ip").GetString()!;

    private static async Task<List<string>> HistoryAsync(ProvisionerApp app, long id)
    {
        await using var connection = await app.Service<Database>().OpenAsync();
        return [.. await connection.QueryAsync<string>(
            "SELECT coalesce(from_state, '') || '>' || to_state || ': ' || coalesce(message, '') FROM instance_state_changes WHERE instance_id = @id ORDER BY id;", new { id })];
    }

    private static string? Scalar(string path, params string[] keys)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            stream.Load(reader);
        }

        YamlNode node = stream.Documents[0].RootNode;
        foreach (var key in keys)
        {
            node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        }

        return ((YamlScalarNode)node).Value;
    }
}
