using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Tests;

/// <summary>
/// Supervisor's host name and network settings as the WebSocket <c>supervisor/api</c> passthrough reaches them
/// (supervisor/api/host.py options, supervisor/api/network.py info and interface_update): a static address moves Home
/// Assistant to it (Core keeps running), and both settings outlive Core restarts and the emulator (the VM's disk).
/// </summary>
public sealed class SupervisorHostTests
{
    private static int _addresses;

    private static HaSimOptions Options(string? disk = null, Action<IPAddress>? moved = null) =>
        RestoreFlowTests.Fast($"127.0.33.{10 + Interlocked.Increment(ref _addresses) * 2}") with { DiskDirectory = disk, AddressChanged = moved };

    private static async Task<(HaSimulator Sim, HaTestClient Client, HaSocket Socket)> AdminAsync(HaSimOptions options)
    {
        var sim = await RestoreFlowTests.RestoredAsync(HaBaseBackup.Create(new HaBaseBackupSpec("admin", "pw-123456")), options);
        var client = new HaTestClient(sim);
        await client.LoginAsync("admin", "pw-123456");
        return (sim, client, await client.ConnectAsync());
    }

    private static Task<JsonNode> SupervisorAsync(HaSocket socket, string endpoint, string method, JsonObject? data = null)
    {
        var fields = new JsonObject { ["endpoint"] = endpoint, ["method"] = method };
        if (data is not null)
        {
            fields["data"] = data;
        }

        return socket.CommandAsync("supervisor/api", fields);
    }

    [Fact]
    public async Task Host_options_set_the_host_name_and_refuse_what_hostnamed_refuses()
    {
        var (sim, client, ws) = await AdminAsync(Options());
        await using var _ = sim;
        using var __ = client;
        await using var ___ = ws;

        (await SupervisorAsync(ws, "/host/info", "get"))["result"]!["hostname"]!.GetValue<string>().Should().Be("homeassistant");

        var set = await SupervisorAsync(ws, "/host/options", "post", new JsonObject { ["hostname"] = "muller-haus-ctrlable-pro" });
        set["success"]!.GetValue<bool>().Should().BeTrue(set.ToJsonString());
        (await SupervisorAsync(ws, "/host/info", "get"))["result"]!["hostname"]!.GetValue<string>().Should().Be("muller-haus-ctrlable-pro");
        (await SupervisorAsync(ws, "/info", "get"))["result"]!["hostname"]!.GetValue<string>().Should().Be("muller-haus-ctrlable-pro");

        var invalid = await SupervisorAsync(ws, "/host/options", "post", new JsonObject { ["hostname"] = "-bad_name" });
        invalid["success"]!.GetValue<bool>().Should().BeFalse();
        invalid["error"]!["message"]!.GetValue<string>().Should().Be("Invalid hostname '-bad_name'");
        var extra = await SupervisorAsync(ws, "/host/options", "post", new JsonObject { ["hostname"] = "x", ["timezone"] = "UTC" });
        extra["error"]!["message"]!.GetValue<string>().Should().StartWith("extra keys not allowed @ data['timezone']");
        sim.Host.Hostname.Should().Be("muller-haus-ctrlable-pro");
    }

    [Fact]
    public async Task Network_info_reports_the_LAN_interface_as_Supervisor_shapes_it()
    {
        var (sim, client, ws) = await AdminAsync(Options());
        await using var _ = sim;
        using var __ = client;
        await using var ___ = ws;

        var info = (await SupervisorAsync(ws, "/network/info", "get"))["result"]!;

        var nic = info["interfaces"]!.AsArray().Single()!;
        nic["interface"]!.GetValue<string>().Should().Be("enp0s18");
        nic["type"]!.GetValue<string>().Should().Be("ethernet");
        nic["primary"]!.GetValue<bool>().Should().BeTrue();
        nic["ipv4"]!["method"]!.GetValue<string>().Should().Be("auto");
        nic["ipv4"]!["address"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal($"{sim.Options.Address}/24");
        nic["ipv6"]!["method"]!.GetValue<string>().Should().Be("auto");
        info["docker"]!["interface"]!.GetValue<string>().Should().Be("hassio");
        (await SupervisorAsync(ws, "/network/interface/default/info", "get"))["result"]!["interface"]!.GetValue<string>().Should().Be("enp0s18");
        (await SupervisorAsync(ws, "/network/interface/eth9/info", "get"))["error"]!["message"]!.GetValue<string>().Should().Be("Interface eth9 does not exist");
    }

    [Fact]
    public async Task A_static_address_moves_Home_Assistant_there_without_restarting_Core()
    {
        var moved = new TaskCompletionSource<IPAddress>(TaskCreationOptions.RunContinuationsAsynchronously);
        var (sim, client, ws) = await AdminAsync(Options(moved: a => moved.TrySetResult(a)));
        await using var _ = sim;
        using var __ = client;
        var dhcp = sim.Address;
        var target = IPAddress.Parse(dhcp.ToString()[..dhcp.ToString().LastIndexOf('.')] + $".{dhcp.GetAddressBytes()[3] + 1}");
        var boots = sim.State.Boots;

        var answer = await SupervisorAsync(ws, "/network/interface/enp0s18/update", "post", new JsonObject
        {
            ["ipv4"] = new JsonObject
            {
                ["method"] = "static",
                ["address"] = new JsonArray($"{target}/24"),
                ["gateway"] = "127.0.33.1",
                ["nameservers"] = new JsonArray("127.0.33.1", "127.0.33.2"),
            },
        });

        answer["success"]!.GetValue<bool>().Should().BeTrue(answer.ToJsonString());
        (await moved.Task.WaitAsync(TimeSpan.FromSeconds(20))).Should().Be(target);
        await ws.DisposeAsync();
        sim.Address.Should().Be(target);
        sim.StaticAddress.Should().Be(target);
        using var there = new HaTestClient(sim);
        (await there.GetAsync("api/onboarding")).Status.Should().Be(HttpStatusCode.NotFound, "Core answers at the new address, onboarded");
        using var probe = new TcpClient();
        var refused = async () => await probe.ConnectAsync(dhcp, sim.CorePort);
        await refused.Should().ThrowAsync<SocketException>("nothing listens on the old address any more");
        sim.State.Boots.Should().Be(boots, "an address change is not a Core restart");

        there.AccessToken = client.AccessToken;
        await using var again = await there.ConnectAsync();
        var nic = (await SupervisorAsync(again, "/network/info", "get"))["result"]!["interfaces"]![0]!["ipv4"]!;
        nic["method"]!.GetValue<string>().Should().Be("static");
        nic["address"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal($"{target}/24");
        nic["gateway"]!.GetValue<string>().Should().Be("127.0.33.1");
        nic["nameservers"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal("127.0.33.1", "127.0.33.2");
    }

    [Fact]
    public async Task Invalid_network_updates_are_refused_with_Supervisor_s_words_and_change_nothing()
    {
        var (sim, client, ws) = await AdminAsync(Options());
        await using var _ = sim;
        using var __ = client;
        await using var ___ = ws;

        async Task<string> RefusedAsync(string iface, JsonObject data)
        {
            var answer = await SupervisorAsync(ws, $"/network/interface/{iface}/update", "post", data);
            answer["success"]!.GetValue<bool>().Should().BeFalse(answer.ToJsonString());
            return answer["error"]!["message"]!.GetValue<string>();
        }

        (await RefusedAsync("eth9", new JsonObject { ["ipv4"] = new JsonObject { ["method"] = "auto" } })).Should().Be("Interface eth9 does not exist");
        (await RefusedAsync("enp0s18", [])).Should().Be("You need to supply at least one option to update");
        (await RefusedAsync("enp0s18", new JsonObject { ["ipv4"] = new JsonObject { ["method"] = "static", ["address"] = new JsonArray("300.1.1.1/24") } }))
            .Should().StartWith("not a valid value for dictionary value @ data['ipv4']['address']");
        (await RefusedAsync("enp0s18", new JsonObject { ["ipv4"] = new JsonObject { ["method"] = "static", ["netmask"] = "255.255.255.0" } }))
            .Should().StartWith("extra keys not allowed @ data['ipv4']['netmask']");
        (await RefusedAsync("enp0s18", new JsonObject { ["ipv4"] = new JsonObject { ["method"] = "static", ["gateway"] = "127.0.33.1" } }))
            .Should().Be("Activating connection failed, check connection settings.");

        sim.Host.Ipv4Method.Should().Be("auto");
        sim.Address.Should().Be(IPAddress.Parse(sim.Options.Address));
    }

    [Fact]
    public async Task Host_name_and_static_address_are_kept_on_the_VM_s_disk()
    {
        var disk = Path.Combine(Path.GetTempPath(), $"hasim-host-{Guid.NewGuid():N}");
        try
        {
            var options = Options(disk);
            var target = IPAddress.Parse(options.Address[..options.Address.LastIndexOf('.')] + $".{int.Parse(options.Address[(options.Address.LastIndexOf('.') + 1)..], System.Globalization.CultureInfo.InvariantCulture) + 1}");
            var (sim, client, ws) = await AdminAsync(options);
            await using (sim)
            {
                using var _ = client;
                await using var __ = ws;
                (await SupervisorAsync(ws, "/host/options", "post", new JsonObject { ["hostname"] = "site-ctrlable-pro" }))["success"]!.GetValue<bool>().Should().BeTrue();
                (await SupervisorAsync(ws, "/network/interface/enp0s18/update", "post", new JsonObject
                {
                    ["ipv4"] = new JsonObject { ["method"] = "static", ["address"] = new JsonArray($"{target}/24"), ["gateway"] = "127.0.33.1", ["nameservers"] = new JsonArray("127.0.33.1") },
                }))["success"]!.GetValue<bool>().Should().BeTrue();
            }

            var reported = new TaskCompletionSource<IPAddress>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var again = await HaSimulator.StartAsync(options with { AddressChanged = a => reported.TrySetResult(a) });
            await again.WaitForPhaseAsync(HaPhase.Running);

            again.Host.Hostname.Should().Be("site-ctrlable-pro");
            again.Address.Should().Be(target, "the VM comes back with the address Supervisor gave it, not its DHCP lease");
            (await reported.Task.WaitAsync(TimeSpan.FromSeconds(10))).Should().Be(target, "the Proxmox emulator learns where the VM is");
            using var there = new HaTestClient(again);
            (await there.GetAsync("api/onboarding")).Status.Should().Be(HttpStatusCode.NotFound);
        }
        finally
        {
            if (Directory.Exists(disk))
            {
                Directory.Delete(disk, recursive: true);
            }
        }
    }
}
