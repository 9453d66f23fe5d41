using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;

namespace Ctrlable.Provisioner.Tests.Provision;

/// <summary>
/// <c>GET /api/provision/broker</c>: after its first boot a zigbee2mqtt or frigate guest asks where its MQTT broker is
/// now (the site's Home Assistant may have a new DHCP address), with its instance credential, from its own address.
/// </summary>
public sealed class BrokerFollowApiTests
{
    private static readonly Dictionary<string, string?> NoFollowing = new() { ["Addressing:FollowIntervalSeconds"] = "0" };

    [Fact]
    public async Task A_guest_after_its_first_boot_learns_where_its_broker_is_now_without_a_Proxmox_request()
    {
        await using var h = await FirstBootHarness.StartAsync(settings: NoFollowing);
        var guest = await h.DeployAsync(TemplateTypes.Zigbee2Mqtt);
        using var claim = await CompletedAsync(h, guest);

        var named = await BrokerAsync(claim.Client, guest);
        named.GetProperty("host").GetString().Should().Be($"{FirstBootHarness.Slug}-ctrlable-pro", "no Home Assistant yet: the name its assignment had");

        var homeAssistant = await InsertHomeAssistantAsync(h, "127.0.10.160");
        var requests = h.Pve.Sim.RequestCount;
        var answer = await BrokerAsync(claim.Client, guest);

        answer.GetProperty("hostname").GetString().Should().Be(guest.Hostname);
        answer.GetProperty("host").GetString().Should().Be("127.0.10.160");
        answer.GetProperty("port").GetInt32().Should().Be(1883);
        answer.GetProperty("server").GetString().Should().Be("mqtt://127.0.10.160:1883");
        answer.EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo(["hostname", "host", "port", "server"], "the address only, never a secret");
        h.Pve.Sim.RequestCount.Should().Be(requests, "the guest calls from the address the orchestrator knows: Proxmox is not asked");

        await SetAsync(h, homeAssistant, "ip = NULL, state = 'locating'");
        var unknown = await claim.Client.GetAsync($"/api/provision/broker?hostname={guest.Hostname}");
        unknown.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("not-ready");
        unknown.Headers.RetryAfter.Should().NotBeNull();
    }

    [Fact]
    public async Task A_broker_the_site_settings_name_stays_the_assignment_s()
    {
        await using var h = await FirstBootHarness.StartAsync(settings: NoFollowing);
        var settings = FirstBootHarness.Settings with { Mqtt = new MqttSettings { Host = "broker.example.lan", Port = 8883, Tls = true, Username = "site" } };
        await SetProjectSettingsAsync(h, settings);
        // In the harness's project (its settings now name the broker), where the Home Assistant below is added.
        var guest = await h.DeployAsync(TemplateTypes.Frigate);
        using var claim = await CompletedAsync(h, guest);
        await InsertHomeAssistantAsync(h, "127.0.10.161");

        var answer = await BrokerAsync(claim.Client, guest);

        answer.GetProperty("host").GetString().Should().Be("broker.example.lan");
        answer.GetProperty("server").GetString().Should().Be("mqtts://broker.example.lan:8883");
    }

    [Fact]
    public async Task The_broker_is_told_only_to_the_guest_itself_and_only_when_it_has_one()
    {
        await using var h = await FirstBootHarness.StartAsync(settings: NoFollowing);
        var guest = await h.DeployAsync(TemplateTypes.Zigbee2Mqtt);
        using var claim = await h.ClaimAsync(guest);
        await InsertHomeAssistantAsync(h, "127.0.10.162");
        var path = $"/api/provision/broker?hostname={guest.Hostname}";

        // Still in its first boot.
        var early = await claim.Client.GetAsync(path);
        early.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await early.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("not-ready");

        await CompleteAsync(claim, guest);
        using (var wrong = h.App.CreateHttpsClient(await h.AddressOfAsync(guest)))
        {
            wrong.DefaultRequestHeaders.Add(ProvisionApi.CredentialHeader, new string('a', 64));
            await ExpectAsync(await wrong.GetAsync(path), HttpStatusCode.Forbidden, "denied");
        }

        using (var secretOnly = await h.GuestClientAsync(guest))
        {
            (await secretOnly.GetAsync(path)).StatusCode.Should().Be(HttpStatusCode.BadRequest, "only the instance credential asks for the broker");
        }

        using (var elsewhere = h.App.CreateHttpsClient(IPAddress.Parse("127.0.10.250")))
        {
            elsewhere.DefaultRequestHeaders.Add(ProvisionApi.CredentialHeader, claim.Credential);
            await ExpectAsync(await elsewhere.GetAsync(path), HttpStatusCode.Forbidden, "address-mismatch");
        }

        var zwave = await h.DeployAsync(TemplateTypes.ZwaveJs);
        using var zwaveClaim = await CompletedAsync(h, zwave);
        await ExpectAsync(await zwaveClaim.Client.GetAsync($"/api/provision/broker?hostname={zwave.Hostname}"), HttpStatusCode.NotFound, "no-broker");
        h.App.Logs.Lines.Should().NotContain(l => l.Contains(claim.Credential, StringComparison.Ordinal));
    }

    private static async Task<GuestClaim> CompletedAsync(FirstBootHarness h, TestGuest guest)
    {
        var claim = await h.ClaimAsync(guest);
        await CompleteAsync(claim, guest);
        return claim;
    }

    private static async Task CompleteAsync(GuestClaim claim, TestGuest guest)
    {
        var complete = await claim.Client.PostAsJsonAsync("/api/provision/complete", new { hostname = guest.Hostname, status = "ok", versions = new { firstboot = "3" } });
        complete.StatusCode.Should().Be(HttpStatusCode.NoContent, await complete.Content.ReadAsStringAsync());
    }

    private static async Task<JsonElement> BrokerAsync(HttpClient client, TestGuest guest)
    {
        var response = await client.GetAsync($"/api/provision/broker?hostname={guest.Hostname}");
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        response.StatusCode.Should().Be(status, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be(code);
    }

    private static async Task<long> InsertHomeAssistantAsync(FirstBootHarness h, string ip)
    {
        await using var connection = await h.App.Service<Database>().OpenAsync();
        return await connection.ExecuteScalarAsync<long>("""
            INSERT INTO instances (project_id, type, kind, hostname, ip, state, release, created_at, updated_at)
            VALUES (@ProjectId, 'ctrlable-pro', 'vm', @hostname, @ip, 'active', @release, @now, @now) RETURNING id;
            """, new { h.ProjectId, hostname = $"{FirstBootHarness.Slug}-ctrlable-pro", ip, release = FirstBootHarness.Release, now = DateTimeOffset.UtcNow });
    }

    private static async Task SetAsync(FirstBootHarness h, long id, string assignments)
    {
        await using var connection = await h.App.Service<Database>().OpenAsync();
        await connection.ExecuteAsync($"UPDATE instances SET {assignments} WHERE id = @id;", new { id });
    }

    private static async Task SetProjectSettingsAsync(FirstBootHarness h, SiteSettings settings)
    {
        await using var connection = await h.App.Service<Database>().OpenAsync();
        await connection.ExecuteAsync("UPDATE projects SET settings_json = @json WHERE id = @id;", new { id = h.ProjectId, json = JsonSerializer.Serialize(settings, ProjectJson.Options) });
    }
}
