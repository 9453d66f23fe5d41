using System.Net;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Tests;

public sealed class ConfigFlowAndAuthTests
{
    private static async Task<(HaSimulator Sim, HaTestClient Client)> SignedInAsync(HaSimOptions? options = null)
    {
        var sim = await RestoreFlowTests.RestoredAsync(HaBaseBackup.Create(new HaBaseBackupSpec("admin", "pw-123456")), options);
        var client = new HaTestClient(sim);
        await client.LoginAsync("admin", "pw-123456");
        return (sim, client);
    }

    [Fact]
    public async Task Mqtt_flow_goes_menu_broker_form_connection_test_entry_and_refuses_a_second()
    {
        var broker = "wrong";
        var (sim, client) = await SignedInAsync(RestoreFlowTests.Fast() with { MqttCheck = (a, _) => Task.FromResult(a.Password == broker) });
        await using var _ = sim;
        using var __ = client;

        var menu = (await client.PostAsync("api/config/config_entries/flow", new { handler = "mqtt", show_advanced_options = false })).Body!;
        menu["type"]!.GetValue<string>().Should().Be("menu");
        menu["menu_options"]!.AsArray().Select(o => o!.GetValue<string>()).Should().Equal("addon", "broker");
        var flow = menu["flow_id"]!.GetValue<string>();
        (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { next_step_id = "nope" })).Status.Should().Be(HttpStatusCode.BadRequest);

        var form = (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { next_step_id = "broker" })).Body!;
        form["step_id"]!.GetValue<string>().Should().Be("broker");
        form["data_schema"]!.AsArray().Select(f => f!["name"]!.GetValue<string>()).Should().Equal("broker", "port", "username", "password");
        (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { port = 1883 })).Text.Should().Contain("required key not provided @ data['broker']");

        var failed = (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { broker = "10.0.0.5", port = 1883, username = "ha", password = "bad" })).Body!;
        failed["errors"]!["base"]!.GetValue<string>().Should().Be("cannot_connect");
        broker = "good";
        var created = (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { broker = "10.0.0.5", port = 1883, username = "ha", password = "good" })).Body!;
        created["type"]!.GetValue<string>().Should().Be("create_entry");
        created["result"]!["domain"]!.GetValue<string>().Should().Be("mqtt");

        var again = (await client.PostAsync("api/config/config_entries/flow", new { handler = "mqtt" })).Body!;
        again["reason"]!.GetValue<string>().Should().Be("single_instance_allowed");
        sim.State.ConfigEntries.Single(e => e.Domain == "mqtt").Data["password"]!.GetValue<string>().Should().Be("good");
        (await client.GetAsync("api/config/config_entries/entry?domain=mqtt")).Body!.AsArray().Should().HaveCount(1);
    }

    [Fact]
    public async Task Zwave_js_flow_takes_the_custom_path_and_detects_the_same_server_again()
    {
        var (sim, client) = await SignedInAsync();
        await using var _ = sim;
        using var __ = client;

        async Task<JsonNode> RunAsync(string url)
        {
            var menu = (await client.PostAsync("api/config/config_entries/flow", new { handler = "zwave_js" })).Body!;
            menu["step_id"]!.GetValue<string>().Should().Be("installation_type");
            var flow = menu["flow_id"]!.GetValue<string>();
            (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { next_step_id = "intent_custom" })).Body!["step_id"]!.GetValue<string>().Should().Be("on_supervisor");
            (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { use_addon = false })).Body!["step_id"]!.GetValue<string>().Should().Be("manual");
            var bad = (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { url = "http://x:3000" })).Body!;
            bad["errors"]!["base"]!.GetValue<string>().Should().Be("invalid_ws_url");
            return (await client.PostAsync($"api/config/config_entries/flow/{flow}", new { url })).Body!;
        }

        (await RunAsync("ws://127.0.10.31:3000"))["type"]!.GetValue<string>().Should().Be("create_entry");
        (await RunAsync("ws://127.0.10.31:3000"))["reason"]!.GetValue<string>().Should().Be("already_configured");
        sim.State.ConfigEntries.Where(e => e.Domain == "zwave_js").Should().ContainSingle();
    }

    [Fact]
    public async Task Frigate_exists_only_with_its_custom_component_and_a_restart_loses_flows_in_progress()
    {
        var (sim, client) = await SignedInAsync();
        await using var _ = sim;
        using var __ = client;

        var form = (await client.PostAsync("api/config/config_entries/flow", new { handler = "frigate" })).Body!;
        form["data_schema"]!.AsArray().Select(f => f!["name"]!.GetValue<string>()).Should().Equal("url", "validate_ssl", "username", "password");
        var flow = form["flow_id"]!.GetValue<string>();

        sim.RestartCore();
        await client.WaitForStatusAsync("api/config/config_entries/flow/" + flow, HttpStatusCode.NotFound);
        (await client.GetAsync("api/")).Status.Should().Be(HttpStatusCode.OK, "refresh tokens and their access tokens survive a restart");

        sim.Edit(c => c.OtherFiles.Remove("custom_components/frigate/manifest.json"));
        sim.Edit(c => c.OtherFiles.Remove("custom_components/frigate/__init__.py"));
        var unknown = await client.PostAsync("api/config/config_entries/flow", new { handler = "frigate" });
        unknown.Status.Should().Be(HttpStatusCode.NotFound);
        unknown.Body!["message"]!.GetValue<string>().Should().Be("Invalid handler specified");
    }

    [Fact]
    public async Task Token_endpoint_takes_forms_only_single_use_codes_and_refresh_tokens()
    {
        var sim = await RestoreFlowTests.RestoredAsync(HaBaseBackup.Create(new HaBaseBackupSpec("admin", "pw-123456")));
        await using var _ = sim;
        using var client = new HaTestClient(sim);

        var json = await client.PostAsync("auth/token", new { grant_type = "authorization_code", code = "x", client_id = client.ClientId });
        json.Body!["error"]!.GetValue<string>().Should().Be("unsupported_grant_type");

        var flow = await client.PostAsync("auth/login_flow", new { client_id = client.ClientId, handler = new object?[] { "homeassistant", null }, redirect_uri = client.ClientId });
        var code = (await client.PostAsync($"auth/login_flow/{flow.Body!["flow_id"]}", new { client_id = client.ClientId, username = "admin", password = "pw-123456" })).Body!["result"]!.GetValue<string>();
        KeyValuePair<string, string>[] exchange = [new("grant_type", "authorization_code"), new("code", code), new("client_id", client.ClientId)];
        var first = await client.TokenAsync(exchange);
        first["refresh_token"]!.GetValue<string>().Should().HaveLength(128);
        (await client.TokenAsync(exchange))["error_description"]!.GetValue<string>().Should().Be("Invalid code");

        var refreshed = await client.TokenAsync([new("grant_type", "refresh_token"), new("refresh_token", first["refresh_token"]!.GetValue<string>()), new("client_id", client.ClientId)]);
        refreshed["expires_in"]!.GetValue<int>().Should().Be(1800);
        refreshed["refresh_token"].Should().BeNull("a refresh grant returns no new refresh token");
        client.AccessToken = refreshed["access_token"]!.GetValue<string>();
        (await client.GetAsync("api/")).Status.Should().Be(HttpStatusCode.OK);
        (await client.TokenAsync([new("grant_type", "refresh_token"), new("refresh_token", "nope"), new("client_id", client.ClientId)]))["error"]!.GetValue<string>().Should().Be("invalid_grant");

        var publicIp = await client.PostAsync("auth/login_flow", new { client_id = "http://8.8.8.8/", handler = new object?[] { "homeassistant", null }, redirect_uri = "http://8.8.8.8/" });
        publicIp.Body!["message"]!.GetValue<string>().Should().Be("Invalid client id");
    }

    [Fact]
    public async Task Websocket_refuses_bad_tokens_reused_ids_and_non_owner_password_changes()
    {
        var (sim, client) = await SignedInAsync();
        await using var _ = sim;
        using var __ = client;

        await using (var bad = await client.ConnectAsync("not-a-token"))
        {
            bad.AuthReply!["type"]!.GetValue<string>().Should().Be("auth_invalid");
        }

        await using var ws = await client.ConnectAsync();
        var user = (await ws.CommandAsync("config/auth/create", new JsonObject { ["name"] = "Viewer" }))["result"]!["user"]!["id"]!.GetValue<string>();
        await ws.CommandAsync("config/auth_provider/homeassistant/create", new JsonObject { ["user_id"] = user, ["username"] = "viewer", ["password"] = "viewer-pw" });
        await ws.SendAsync(new JsonObject { ["id"] = 1, ["type"] = "ping" });
        (await ws.ReceiveAsync())!["error"]!["code"]!.GetValue<string>().Should().Be("id_reuse");

        using var viewer = new HaTestClient(sim);
        await viewer.LoginAsync("viewer", "viewer-pw");
        await using var viewerWs = await viewer.ConnectAsync();
        var denied = await viewerWs.CommandAsync("config/auth_provider/homeassistant/admin_change_password", new JsonObject { ["user_id"] = user, ["password"] = "x" });
        denied["error"]!["code"]!.GetValue<string>().Should().Be("unauthorized");
        (await viewerWs.CommandAsync("config/auth/list"))["error"]!["code"]!.GetValue<string>().Should().Be("unauthorized");
        (await viewer.PostAsync("api/config/config_entries/flow", new { handler = "mqtt" })).Status.Should().Be(HttpStatusCode.Unauthorized);
        sim.State.Users.Single(u => u.Id == user).IsAdmin.Should().BeFalse();
    }

    [Fact]
    public async Task Onboarding_by_hand_closes_the_backup_endpoints_and_a_non_normalised_username_leaves_a_stray_user()
    {
        await using var sim = await HaSimulator.StartAsync(RestoreFlowTests.Fast() with { Layout = HaPortLayout.Core80 });
        await sim.WaitForPhaseAsync(HaPhase.Running);
        using var legacy = new HaTestClient(sim, sim.LegacyPort);
        (await legacy.PostAsync("api/onboarding/users", new { })).Status.Should().Be(HttpStatusCode.Found, "Core 2026.8 redirects 8123 to 80");
        using var client = new HaTestClient(sim);

        var bad = await client.PostAsync("api/onboarding/users", new { client_id = client.ClientId, name = "Owner", username = "Owner ", password = "pw", language = "en" });
        bad.Status.Should().Be(HttpStatusCode.InternalServerError);
        sim.State.Users.Where(u => !u.SystemGenerated).Should().ContainSingle(u => u.IsOwner);

        var ok = await client.PostAsync("api/onboarding/users", new { client_id = client.ClientId, name = "Owner", username = "owner", password = "pw", language = "en" });
        ok.Status.Should().Be(HttpStatusCode.OK);
        sim.State.Users.Where(u => !u.SystemGenerated).Should().HaveCount(2).And.ContainSingle(u => u.IsOwner);
        (await client.GetAsync("api/onboarding/backup/info")).Status.Should().Be(HttpStatusCode.Unauthorized);
        (await client.PostAsync("api/onboarding/users", new { client_id = client.ClientId, name = "O", username = "o2", password = "pw", language = "en" })).Status.Should().Be(HttpStatusCode.Forbidden);
        (await client.GetAsync("auth/providers")).Status.Should().Be(HttpStatusCode.OK);

        var token = await client.TokenAsync([new("grant_type", "authorization_code"), new("code", ok.Body!["auth_code"]!.GetValue<string>()), new("client_id", client.ClientId)]);
        client.AccessToken = token["access_token"]!.GetValue<string>();
        (await client.PostAsync("api/onboarding/core_config")).Status.Should().Be(HttpStatusCode.OK);
        (await client.PostAsync("api/onboarding/core_config")).Status.Should().Be(HttpStatusCode.Forbidden);
        (await client.PostAsync("api/onboarding/analytics")).Status.Should().Be(HttpStatusCode.OK);
        (await client.PostAsync("api/onboarding/integration", new { client_id = client.ClientId, redirect_uri = client.ClientId })).Body!["auth_code"].Should().NotBeNull();
        (await client.GetAsync("api/onboarding")).Body!.AsArray().Should().OnlyContain(s => s!["done"]!.GetValue<bool>());
    }
}
