using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Dashboard;

public sealed class DashboardApiTests
{
    [Fact]
    public async Task Demo_mode_shows_the_simulated_host_with_the_active_release_templates()
    {
        using var app = new ProvisionerApp();
        using var client = await app.CreateClientAsync(Role.Viewer);

        var dashboard = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");

        dashboard.GetProperty("simulated").GetBoolean().Should().BeTrue();
        dashboard.GetProperty("stale").GetBoolean().Should().BeFalse();
        dashboard.GetProperty("activeRelease").GetString().Should().Be("2026.06");
        var node = dashboard.GetProperty("nodes").EnumerateArray().Single();
        node.GetProperty("node").GetString().Should().Be("pve");
        node.GetProperty("memTotal").GetInt64().Should().BeGreaterThan(0);
        node.GetProperty("pveVersion").GetString().Should().StartWith("9.1");
        node.GetProperty("loadAverage").GetArrayLength().Should().Be(3);
        node.GetProperty("storages").EnumerateArray().Should().Contain(s => s.GetProperty("storage").GetString() == "local-lvm" && s.GetProperty("linkedClones").GetBoolean());
        dashboard.GetProperty("templates").EnumerateArray().Select(t => t.GetProperty("name").GetString())
            .Should().BeEquivalentTo(["ctrlable-pro", "zwavejs", "zigbee2mqtt", "docker-portainer", "frigate", "freepbx"]);
        dashboard.GetProperty("templates").EnumerateArray().Should().OnlyContain(t => t.GetProperty("present").GetBoolean());
        dashboard.GetProperty("asOf").GetDateTimeOffset().Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Guests_outside_the_orchestrator_are_other_guests_and_non_linked_storage_is_flagged()
    {
        await using var pve = await ProxmoxHarness.StartAsync(nodes: ["pve1", "pve2"]);
        // Let the product's token see the foreign guest, as an admin might with PVEAuditor on /vms.
        pve.Sim.Seed(new Ctrlable.PveSim.Seeding.SeedSpec
        {
            Acls = [new("/vms", pve.Connection.TokenId.Split('!')[0], "PVEAuditor"), new("/vms", pve.Connection.TokenId, "PVEAuditor"),
                    new("/storage", pve.Connection.TokenId.Split('!')[0], "PVEAuditor"), new("/storage", pve.Connection.TokenId, "PVEAuditor")],
        });
        using var app = new ProvisionerApp(settings: ProvisionerApp.ProxmoxSettings(pve));
        using var client = await app.CreateClientAsync(Role.Viewer);

        var dashboard = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");

        dashboard.GetProperty("simulated").GetBoolean().Should().BeFalse("a configured host is not the demo host");
        dashboard.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("node").GetString()).Should().Equal("pve1", "pve2");
        dashboard.GetProperty("otherGuests").EnumerateArray().Should().ContainSingle(g => g.GetProperty("vmid").GetInt32() == ProxmoxHarness.ForeignGuest)
            .Which.GetProperty("status").GetString().Should().Be("running");
        var storages = dashboard.GetProperty("nodes")[0].GetProperty("storages").EnumerateArray().ToList();
        storages.Single(s => s.GetProperty("storage").GetString() == "local").GetProperty("linkedClones").GetBoolean().Should().BeFalse("a dir storage makes deploys slow full copies");
        storages.Single(s => s.GetProperty("storage").GetString() == "local-lvm").GetProperty("linkedClones").GetBoolean().Should().BeTrue();
        dashboard.GetProperty("activeRelease").ValueKind.Should().Be(JsonValueKind.Null, "nothing was built on this host");
        var guestMetrics = await client.GetFromJsonAsync<JsonElement>($"/api/guests/{ProxmoxHarness.ForeignGuest}/metrics?timeframe=hour");
        guestMetrics.GetProperty("points").EnumerateArray().Should().Contain(p => p.GetProperty("memTotal").ValueKind == JsonValueKind.Number);
    }

    [Fact]
    public async Task Many_concurrent_viewers_cost_one_proxmox_poll()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var recorder = new RequestRecorder();
        // A snapshot fresh for an hour: 50 requests on a loaded machine may take longer than the default 3 s, and
        // what is asserted is that concurrent and later viewers share one poll, not how long 50 requests take.
        var settings = new Dictionary<string, string?>(ProvisionerApp.ProxmoxSettings(pve)) { ["Dashboard:CacheSeconds"] = "3600" };
        using var app = new ProvisionerApp(settings: settings, services: s => s.AddHttpClient(ProxmoxClient.HttpClientName).AddHttpMessageHandler(() => recorder));
        using var client = await app.CreateClientAsync(Role.Viewer);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.GetAsync("/api/dashboard")));

        responses.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.OK);
        recorder.Requests.Count(r => r.Path.EndsWith("/cluster/resources", StringComparison.Ordinal)).Should().Be(1);
        var asOf = await Task.WhenAll(responses.Select(async r => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("asOf").GetString()));
        asOf.Distinct().Should().ContainSingle("every viewer got the same snapshot");
    }

    [Fact]
    public async Task Unreachable_host_serves_the_last_snapshot_marked_stale()
    {
        var pve = await ProxmoxHarness.StartAsync();
        // No freshness window: the request after the host went away polls it again at once (no waiting for expiry).
        using var app = new ProvisionerApp(settings: new Dictionary<string, string?>(ProvisionerApp.ProxmoxSettings(pve)) { ["Dashboard:CacheSeconds"] = "0" });
        using var client = await app.CreateClientAsync(Role.Viewer);
        var fresh = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");

        await pve.DisposeAsync();
        var stale = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");

        stale.GetProperty("stale").GetBoolean().Should().BeTrue();
        stale.GetProperty("staleReason").GetString().Should().Contain("unreachable");
        stale.GetProperty("asOf").GetString().Should().Be(fresh.GetProperty("asOf").GetString());
        stale.GetProperty("nodes").GetArrayLength().Should().Be(1);
    }

    [Fact]
    public async Task Nothing_known_is_a_503_problem()
    {
        var pve = await ProxmoxHarness.StartAsync();
        var settings = ProvisionerApp.ProxmoxSettings(pve);
        await pve.DisposeAsync();
        using var app = new ProvisionerApp(settings: settings);
        using var client = await app.CreateClientAsync(Role.Viewer);

        var response = await client.GetAsync("/api/dashboard");

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadAsStringAsync()).Should().Contain("unreachable");
    }

    [Fact]
    public async Task Node_and_guest_metrics_come_from_rrddata()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        using var app = new ProvisionerApp(settings: ProvisionerApp.ProxmoxSettings(pve));
        using var client = await app.CreateClientAsync(Role.Viewer);

        var hour = await client.GetFromJsonAsync<JsonElement>("/api/nodes/pve1/metrics?timeframe=hour");
        var day = await client.GetFromJsonAsync<JsonElement>("/api/nodes/pve1/metrics?timeframe=day");

        hour.GetProperty("points").GetArrayLength().Should().BeGreaterThan(30);
        var times = hour.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("time").GetInt64()).ToList();
        times.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        (times[^1] - times[0]).Should().BeInRange(50 * 60, 61 * 60, "an hour of 60 s samples");
        hour.GetProperty("points").EnumerateArray().Should().Contain(p => p.GetProperty("cpu").ValueKind == JsonValueKind.Number);
        day.GetProperty("timeframe").GetString().Should().Be("day");

        (await client.GetAsync("/api/nodes/pve1/metrics?timeframe=decade")).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await client.GetAsync("/api/guests/4242/metrics")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
