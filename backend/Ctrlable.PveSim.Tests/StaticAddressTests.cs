using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.State;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>
/// Static addresses: an LXC's <c>ip=</c>/<c>gw=</c> in net0 are the guest's address, netmask and gateway (pve-container
/// writes them into the container's network configuration), and a Home Assistant OS VM given a static address through
/// its Supervisor is found there by its guest agent, also after a reboot.
/// </summary>
public sealed class StaticAddressTests
{
    [Fact]
    public async Task A_container_with_a_static_ip_and_gateway_in_net0_has_that_address_netmask_and_gateway()
    {
        var (sim, api) = await Sims.Start(scale: 0.05);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150")));
        var net0 = (await api.Get("nodes/pve1/lxc/150/config")).Data!["net0"]!.GetValue<string>();
        var configured = net0.Replace("ip=dhcp", "ip=127.0.44.23/27,gw=127.0.44.1", StringComparison.Ordinal);
        (await api.Put("nodes/pve1/lxc/150/config", ("net0", configured))).Status.Should().Be(HttpStatusCode.OK);

        await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
        var eth0 = await WaitForAddressAsync(api, "nodes/pve1/lxc/150/interfaces");

        eth0["inet"]!.GetValue<string>().Should().Be("127.0.44.23/27");
        eth0["ip-addresses"]!.AsArray().First()!["prefix"]!.GetValue<int>().Should().Be(27);
        lock (sim.State.Sync)
        {
            sim.State.Guests[150].Gateway.Should().Be(IPAddress.Parse("127.0.44.1"));
        }
    }

    [Fact]
    public async Task A_Home_Assistant_VM_given_a_static_address_by_its_Supervisor_is_reported_there_also_after_a_reboot()
    {
        var (sim, api) = await Sims.Start(scale: 0.05);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(9100, "ctrlable-pro", GuestKind.Qemu, DiskGiB: 32) { Tags = ["ctrlable", HomeAssistantMarker.Tag], HomeAssistantCoreOnDisk = true });
        await api.RunTask(api.Post("nodes/pve1/qemu/9100/clone", ("newid", "176"), ("name", "site-ha")));
        await api.RunTask(api.Post("nodes/pve1/qemu/176/status/start"));
        var ha = await Until.Value(() => sim.HomeAssistant(176), "VM 176's Home Assistant booted");
        await ha.WaitForPhaseAsync(HaPhase.Running);

        // What Supervisor's network API does when Home Assistant is given a static address (HaSim's SupervisorHostTests drive it over the WebSocket API).
        await SetStaticAsync(ha, "127.0.45.30");

        await Until.True(async () => AgentAddress(await api.Get("nodes/pve1/qemu/176/agent/network-get-interfaces")) == "127.0.45.30", "the agent reports the static address");
        await api.RunTask(api.Post("nodes/pve1/qemu/176/status/reboot"));
        await Until.True(async () => AgentAddress(await api.Get("nodes/pve1/qemu/176/agent/network-get-interfaces")) == "127.0.45.30", "the agent reports the static address after the reboot");
        await ha.WaitForPhaseAsync(HaPhase.Running);
        ha.BaseAddress.Host.Should().Be("127.0.45.30");
    }

    [Fact]
    public async Task The_admin_endpoint_reports_a_guest_s_Home_Assistant_host_settings_owner_and_restored_backup()
    {
        var (sim, api) = await Sims.Start(scale: 0.05);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(9100, "ctrlable-pro", GuestKind.Qemu, DiskGiB: 32) { Tags = ["ctrlable", HomeAssistantMarker.Tag], HomeAssistantCoreOnDisk = true });
        await api.RunTask(api.Post("nodes/pve1/qemu/9100/clone", ("newid", "177"), ("name", "site-ha")));
        await api.RunTask(api.Post("nodes/pve1/qemu/177/status/start"));
        var ha = await Until.Value(() => sim.HomeAssistant(177), "VM 177's Home Assistant booted");
        await ha.WaitForPhaseAsync(HaPhase.Running);
        await SetStaticAsync(ha, "127.0.45.31");
        await Until.True(() => ha.Address.ToString() == "127.0.45.31", "Home Assistant moved to the static address");

        // Tests outside the process (the browser tests) read it here: no Proxmox auth, as the other /_sim controls.
        using var admin = sim.CreateClient();
        var view = JsonNode.Parse(await admin.GetStringAsync(new Uri(sim.BaseAddress, "/_sim/guests/177/homeassistant")))!;

        view["phase"]!.GetValue<string>().Should().Be("Running");
        view["address"]!.GetValue<string>().Should().Be("127.0.45.31");
        view["hostname"]!.GetValue<string>().Should().Be(HaHostSettings.DefaultHostname);
        view["ipv4"]!["method"]!.GetValue<string>().Should().Be("static");
        view["ipv4"]!["address"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal("127.0.45.31/24");
        view["ipv4"]!["gateway"]!.GetValue<string>().Should().Be("127.0.45.1");
        view["owner"]!.GetValue<string>().Should().Be("owner", "the user onboarding made");
        view["restoredBackupId"].Should().BeNull("nothing was restored");
        (await admin.GetAsync(new Uri(sim.BaseAddress, $"/_sim/guests/{Sims.LxcTemplate}/homeassistant"))).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    /// <summary>Sets the static address the way the orchestrator does: an admin's WebSocket <c>supervisor/api</c> call.</summary>
    private static async Task SetStaticAsync(Ctrlable.HaSim.HaSimulator ha, string address)
    {
        var token = await AdminTokenAsync(ha);
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{ha.BaseAddress.Authority}/api/websocket"), CancellationToken.None);
        await ReceiveAsync(socket);
        await SendAsync(socket, new JsonObject { ["type"] = "auth", ["access_token"] = token });
        (await ReceiveAsync(socket))!["type"]!.GetValue<string>().Should().Be("auth_ok");
        await SendAsync(socket, new JsonObject
        {
            ["id"] = 1,
            ["type"] = "supervisor/api",
            ["endpoint"] = "/network/interface/enp0s18/update",
            ["method"] = "post",
            ["data"] = new JsonObject
            {
                ["ipv4"] = new JsonObject { ["method"] = "static", ["address"] = new JsonArray($"{address}/24"), ["gateway"] = "127.0.45.1", ["nameservers"] = new JsonArray("127.0.45.1") },
            },
        });
        (await ReceiveAsync(socket))!["success"]!.GetValue<bool>().Should().BeTrue();
    }

    /// <summary>An owner made through onboarding, signed in: its access token.</summary>
    private static async Task<string> AdminTokenAsync(Ctrlable.HaSim.HaSimulator ha)
    {
        using var http = new HttpClient { BaseAddress = ha.BaseAddress };
        var client = ha.BaseAddress.ToString();
        var user = await http.PostAsJsonAsync("api/onboarding/users", new { client_id = client, name = "Owner", username = "owner", password = "pw-123456", language = "en" });
        var code = JsonNode.Parse(await user.Content.ReadAsStringAsync())!["auth_code"]!.GetValue<string>();
        var token = await http.PostAsync("auth/token", new FormUrlEncodedContent([new("grant_type", "authorization_code"), new("code", code), new("client_id", client)]));
        return JsonNode.Parse(await token.Content.ReadAsStringAsync())!["access_token"]!.GetValue<string>();
    }

    private static Task SendAsync(System.Net.WebSockets.ClientWebSocket socket, JsonObject message) =>
        socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(message.ToJsonString()), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<JsonNode?> ReceiveAsync(System.Net.WebSockets.ClientWebSocket socket)
    {
        var buffer = new byte[65536];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var result = await socket.ReceiveAsync(buffer, timeout.Token);
        return JsonNode.Parse(buffer.AsSpan(0, result.Count));
    }

    private static string? AgentAddress(ApiResponse response) =>
        response.Status == HttpStatusCode.OK
            ? response.Data!["result"]!.AsArray().Single(i => i!["name"]!.GetValue<string>() == "enp0s18")!["ip-addresses"]![0]!["ip-address"]!.GetValue<string>()
            : null;

    private static Task<JsonObject> WaitForAddressAsync(ApiClient api, string path) =>
        Until.Value(async () => (await api.Get(path)).Data?.AsArray().SingleOrDefault(n => n!["name"]!.GetValue<string>() == "eth0")?.AsObject() is { } eth0 && eth0.ContainsKey("inet")
            ? eth0
            : null, "the container has its address");
}
