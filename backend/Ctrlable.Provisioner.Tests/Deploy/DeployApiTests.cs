using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// Deploys against the demo host (the emulator in-process) with shortened durations. Apps that deploy run on Kestrel
/// (<c>https: true</c>) so the demo's guests run the real first-boot script against them: a deploy ends in active.
/// </summary>
public sealed class DeployApiTests
{
    internal static Dictionary<string, string?> FastDemo(double firstBootTimeoutSeconds = 120) => new()
    {
        ["Simulator:TimingScale"] = "0.05",
        ["Deploy:FirstBootTimeoutSeconds"] = firstBootTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task Project_settings_are_validated_with_every_field_error()
    {
        using var app = new ProvisionerApp(settings: FastDemo());
        using var client = await app.CreateClientAsync(Role.Operator);

        var response = await client.PostAsJsonAsync("/api/projects", new
        {
            name = "",
            slug = "Bad Slug",
            settings = new
            {
                zigbee = new { mode = "network", host = "", port = 70000, adapter = "foo" },
                zwave = new { mode = "usb" },
                network = new { vlan = 5000 },
                cameras = new[] { new { name = "front door", streamUrl = "ftp://x" } },
            },
        });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
        errors.Should().Contain(["name", "slug", "settings.zigbee.host", "settings.zigbee.port", "settings.zigbee.adapter", "settings.zwave.usbDevice", "settings.network.vlan", "settings.cameras[0].name", "settings.cameras[0].streamUrl"]);
    }

    [Fact]
    public async Task A_viewer_cannot_create_or_deploy()
    {
        using var app = new ProvisionerApp(settings: FastDemo());
        using var viewer = await app.CreateClientAsync(Role.Viewer);

        (await viewer.PostAsJsonAsync("/api/projects", new { name = "Site" })).StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Stack_deploy_clones_every_component_into_the_pool_with_unique_identity()
    {
        using var app = new ProvisionerApp(settings: FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await CreateProjectAsync(client, "Müller Haus");

        var response = await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var deploy = await response.Content.ReadFromJsonAsync<JsonElement>();
        deploy.GetProperty("instances").GetArrayLength().Should().Be(6);
        response.Headers.Location!.ToString().Should().Be($"/api/deploys/{deploy.GetProperty("id").GetInt64()}");

        var instances = await WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed");
        instances.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", instances.Select(i => i.GetProperty("error").ToString())));
        instances.Where(i => i.GetProperty("kind").GetString() == "lxc").Should().OnlyContain(i => i.GetProperty("installedVersions").GetProperty("firstboot").GetString() == "4",
            "every LXC guest ran its first boot and reported complete");
        instances.Single(i => i.GetProperty("type").GetString() == "zigbee2mqtt").GetProperty("needsBinding").GetBoolean().Should().BeFalse();
        instances.Select(i => i.GetProperty("hostname").GetString()).Should().BeEquivalentTo(
            ["muller-haus-ctrlable-pro", "muller-haus-zwavejs", "muller-haus-zigbee2mqtt", "muller-haus-docker-portainer", "muller-haus-frigate", "muller-haus-freepbx"]);
        var pro = instances.Single(i => i.GetProperty("type").GetString() == "ctrlable-pro");
        pro.GetProperty("state").GetString().Should().Be("active", "the orchestrator restored, secured and wired Home Assistant");
        pro.GetProperty("appUrl").GetString().Should().StartWith($"http://{pro.GetProperty("ip").GetString()}:", "the SPA links to the located Home Assistant");
        instances.Where(i => i.GetProperty("kind").GetString() == "lxc").Should().OnlyContain(i => i.GetProperty("cloneMode").GetString() == "linked");
        instances.Select(i => i.GetProperty("mac").GetString()).Should().OnlyHaveUniqueItems().And.OnlyContain(m => m!.StartsWith("BC:24:11:", StringComparison.Ordinal));
        instances.Select(i => i.GetProperty("vmid").GetInt32()).Should().OnlyHaveUniqueItems().And.OnlyContain(v => v >= 1000 && v < 9000);

        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        var homeAssistant = sim.HomeAssistant(pro.GetProperty("vmid").GetInt32())!.State;
        homeAssistant.ConfigEntries.Select(e => e.Domain).Should().BeEquivalentTo(["mqtt", "zwave_js", "frigate"], "the project's broker, Z-Wave JS and Frigate are wired in");
        homeAssistant.ConfigEntries.Single(e => e.Domain == "zwave_js").Data["url"]!.GetValue<string>()
            .Should().Be($"ws://{instances.Single(i => i.GetProperty("type").GetString() == "zwavejs").GetProperty("ip").GetString()}:3000");
        foreach (var instance in instances)
        {
            var vmid = instance.GetProperty("vmid").GetInt32();
            var guest = sim.State.Guests[vmid];
            sim.State.Access.Pools["ctrlable"].Vms.Should().Contain(vmid);
            guest.Config["description"].Should().Contain($"instance #{instance.GetProperty("id").GetInt64()}");
            guest.Config["tags"].Should().Contain(instance.GetProperty("type").GetString());
            guest.Config["net0"].Should().Contain(instance.GetProperty("mac").GetString());
        }
    }

    [Fact]
    public async Task Concurrent_add_instance_calls_get_distinct_vmids_and_hostnames_without_lock_errors()
    {
        using var app = new ProvisionerApp(settings: FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await CreateProjectAsync(client, "Burst");

        var calls = Enumerable.Range(0, 20).Select(_ => client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zigbee2mqtt" }))
            .Concat(new[] { "zwavejs", "docker-portainer", "frigate", "freepbx", "zwavejs" }.Select(t => client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = t })));
        var responses = await Task.WhenAll(calls);

        responses.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.Accepted);
        var instances = await WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromMinutes(3));
        instances.Should().HaveCount(25);
        instances.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", instances.Select(i => i.GetProperty("error").ToString()).Distinct()));
        instances.Select(i => i.GetProperty("vmid").GetInt32()).Should().OnlyHaveUniqueItems();
        instances.Select(i => i.GetProperty("hostname").GetString()).Should().OnlyHaveUniqueItems()
            .And.Contain(new[] { "burst-zigbee2mqtt", "burst-zigbee2mqtt-20", "burst-zwavejs", "burst-zwavejs-2" });
    }

    [Fact]
    public async Task Delete_destroys_the_guest_and_keeps_the_history_row()
    {
        using var app = new ProvisionerApp(settings: FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await CreateProjectAsync(client, "Gone");
        await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "freepbx" });
        var instance = (await WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();
        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        var id = instance.GetProperty("id").GetInt64();
        var vmid = instance.GetProperty("vmid").GetInt32();

        // A volume named after the VMID that the guest's config does not hold (an admin's `pvesm alloc`, a leftover of
        // an earlier guest with this VMID): the orchestrator cannot prove it made it, so it must outlive the guest.
        var strayVolume = $"local-lvm:vm-{vmid}-disk-7";
        var state = app.Service<SimulatedProxmoxHost>().Simulator.State;
        lock (state.Sync)
        {
            state.Storages["local-lvm"].Files[strayVolume] = new Ctrlable.PveSim.Cluster.StoredVolume(strayVolume, "images", "raw", 4L << 30, 0, vmid);
        }

        (await client.PostAsync($"/api/instances/{id}/stop", null)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await client.PostAsync($"/api/instances/{id}/start", null)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await client.DeleteAsync($"/api/instances/{id}")).StatusCode.Should().Be(HttpStatusCode.OK);
        var deleted = await WaitForInstanceAsync(client, id, i => i.GetProperty("state").GetString() is "deleted" or "failed");

        deleted.GetProperty("state").GetString().Should().Be("deleted", deleted.GetProperty("error").ToString());
        state.Guests.Should().NotContainKey(vmid);
        state.Storages["local-lvm"].Files.Should().ContainKey(strayVolume, "a volume the guest's config did not hold is not the orchestrator's to free");
        (await client.GetFromJsonAsync<JsonElement>($"/api/projects/{project}")).GetProperty("instances").GetArrayLength().Should().Be(0);
    }

    [Fact]
    public async Task Deploy_without_an_active_release_or_with_an_unknown_type_is_refused()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        using var app = new ProvisionerApp(settings: ProvisionerApp.ProxmoxSettings(pve));
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await CreateProjectAsync(client, "Early");

        var response = await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { });

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadAsStringAsync()).Should().Contain("Build a release");
    }

    [Fact]
    public async Task Deploy_and_add_instance_bodies_name_components_as_template_names_with_the_error_at_the_field()
    {
        using var app = new ProvisionerApp(settings: FastDemo());
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await CreateProjectAsync(client, "Fields");

        (await ErrorsAsync(await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { }))).Should().ContainKey("type").WhoseValue
            .Should().Equal("Name the component to add (a template name of the active release: a-z, 0-9 and '-').");
        (await ErrorsAsync(await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "../zwavejs" }))).Keys.Should().Equal("type");
        (await ErrorsAsync(await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "zwavejs", "Bad Type" } }))).Should().ContainKey("types[1]").WhoseValue
            .Should().Equal("'Bad Type' is not a component name (a-z, 0-9 and '-').");
        // Well formed, but not in the active release: the service says so, at the same field.
        (await ErrorsAsync(await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "no-such-app" }))).Should().ContainKey("type").WhoseValue
            .Should().ContainSingle().Which.Should().Contain("has no template no-such-app");

        using var viewer = await app.CreateClientAsync(Role.Viewer);
        (await viewer.PostAsJsonAsync($"/api/projects/{project}/instances", new { })).StatusCode.Should().Be(HttpStatusCode.Forbidden, "the role is checked before the body");
    }

    private static async Task<Dictionary<string, string[]>> ErrorsAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, body);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        return JsonDocument.Parse(body).RootElement.GetProperty("errors").Deserialize<Dictionary<string, string[]>>()!;
    }

    internal static async Task<long> CreateProjectAsync(HttpClient client, string name)
    {
        var response = await client.PostAsJsonAsync("/api/projects", new { name, settings = new { zigbee = new { host = "192.168.1.50" }, zwave = new { host = "192.168.1.51", port = 3333 } } });
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    internal static async Task<List<JsonElement>> WaitForAsync(HttpClient client, long project, Func<JsonElement, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            var instances = (await client.GetFromJsonAsync<JsonElement>($"/api/projects/{project}")).GetProperty("instances").EnumerateArray().ToList();
            if (instances.Count > 0 && instances.All(done))
            {
                return instances;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("instances did not settle: " + string.Join("; ", instances.Select(i => $"{i.GetProperty("hostname")} {i.GetProperty("state")} {i.GetProperty("message")} {i.GetProperty("error")}")));
            }

            await Task.Delay(100);
        }
    }

    internal static async Task<JsonElement> WaitForInstanceAsync(HttpClient client, long id, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var instance = await client.GetFromJsonAsync<JsonElement>($"/api/instances/{id}");
            if (done(instance) || DateTime.UtcNow > deadline)
            {
                return instance;
            }

            await Task.Delay(100);
        }
    }
}

public sealed class SlugTests
{
    [Theory]
    [InlineData("Müller Haus", "muller-haus")]
    [InlineData("  Straße 7 / Büro ", "strasse-7-buro")]
    [InlineData("42 Main St", "p-42-main-st")]
    public void Slugs_are_dns_safe(string name, string slug) =>
        Ctrlable.Provisioner.Projects.ProjectService.Slugify(name).Should().Be(slug);
}

public sealed class DeployEventsTests
{
    [Fact]
    public async Task Progress_streams_as_server_sent_events_from_a_snapshot_to_the_end()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Stream");
        var started = await (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).Content.ReadFromJsonAsync<JsonElement>();
        var deployId = started.GetProperty("id").GetInt64();

        using var response = await client.GetAsync($"/api/deploys/{deployId}/events", HttpCompletionOption.ResponseHeadersRead);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<(string Event, JsonElement Data)>();
        string? name = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!events.Any(e => e.Event == "progress" && e.Data.GetProperty("state").GetString() is "active" or "failed"))
        {
            var line = await reader.ReadLineAsync(timeout.Token);
            if (line is null)
            {
                break;
            }

            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((name!, JsonDocument.Parse(line[6..]).RootElement.Clone()));
            }
        }

        events[0].Event.Should().Be("snapshot");
        events[0].Data.GetArrayLength().Should().Be(1);
        // The subscriber may arrive after the first steps ran: the snapshot carries the state it missed, and the
        // stream goes on from there, in lifecycle order, through the wait for the guest's first boot. (A guest that
        // fetches its assignment before the deploy recorded "waiting" is never "personalising".)
        string[] lifecycle = ["pending", "cloning", "configuring", "starting", "waiting", "personalising", "active"];
        var states = events.Where(e => e.Event == "progress").Select(e => e.Data.GetProperty("state").GetString()!).ToList();
        var seen = states.Prepend(events[0].Data[0].GetProperty("state").GetString()!).ToList();
        seen.Select(s => Array.IndexOf(lifecycle, s)).Should().OnlyContain(i => i >= 0).And.BeInAscendingOrder();
        states.Should().ContainInOrder("waiting", "active");
        states[^1].Should().Be("active", "the guest's first boot reported complete");
        events.Where(e => e.Event == "progress").Select(e => e.Data.GetProperty("percent").GetInt32()).Should().BeInAscendingOrder();
    }
}
