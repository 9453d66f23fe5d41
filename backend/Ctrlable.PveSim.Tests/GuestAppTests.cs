using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Ctrlable.HaSim.State;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>The web app inside a running Ctrlable guest: up with the guest's network, stoppable while the guest runs.</summary>
public sealed class GuestAppTests
{
    [Fact]
    public async Task A_tagged_guest_s_app_answers_on_its_address_stops_and_starts_while_the_guest_runs_and_goes_with_the_guest()
    {
        var (sim, api) = await Sims.Start(scale: 0.02);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(9300, "zwavejs-tmpl", GuestKind.Lxc) { Tags = ["ctrlable", "zwavejs"] });
        await api.RunTask(api.Post("nodes/pve1/lxc/9300/clone", ("newid", "180"), ("hostname", "site-zwavejs")));
        await api.RunTask(api.Post("nodes/pve1/lxc/180/status/start"));
        var address = await Until.Value(() => AddressOf(sim, 180), "CT 180 has its address");
        var port = sim.AppPorts!["zwavejs"];
        using var http = new HttpClient();
        var url = $"http://{address}:{port}/";

        await Until.True(() => sim.AppRunning(180) == true, "CT 180's app is up");
        var page = await http.GetStringAsync(url);
        page.Should().Contain("Z-Wave JS UI");

        (await sim.StopAppAsync(180)).Should().BeTrue();
        sim.AppRunning(180).Should().BeFalse();
        await FluentActions.Awaiting(() => http.GetAsync(url)).Should().ThrowAsync<HttpRequestException>("nothing listens once the app is stopped");
        lock (sim.State.Sync)
        {
            sim.State.Guest(180)!.Running.Should().BeTrue("stopping the app leaves the guest running");
        }

        // The admin endpoint does the same for tests outside the process (the browser tests).
        using var admin = sim.CreateClient();
        var started = await admin.PostAsync(new Uri(sim.BaseAddress, "/_sim/guests/180/app/start"), null);
        started.StatusCode.Should().Be(HttpStatusCode.OK);
        (await started.Content.ReadAsStringAsync()).Should().Contain("\"running\":true");
        (await http.GetAsync(url)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await admin.PostAsync(new Uri(sim.BaseAddress, "/_sim/guests/999/app/stop"), null)).StatusCode.Should().Be(HttpStatusCode.NotFound);

        // A stop by hand does not outlive the guest: its next start brings the app back.
        (await sim.StopAppAsync(180)).Should().BeTrue();
        await api.RunTask(api.Post("nodes/pve1/lxc/180/status/stop"));
        sim.AppRunning(180).Should().BeNull();
        (await sim.StopAppAsync(180)).Should().BeFalse("a stopped guest runs no app");
        await api.RunTask(api.Post("nodes/pve1/lxc/180/status/start"));
        await Until.True(() => sim.AppRunning(180) == true, "CT 180's app is up");
        (await http.GetAsync(url)).StatusCode.Should().Be(HttpStatusCode.OK);

        await api.RunTask(api.Post("nodes/pve1/lxc/180/status/stop"));
        await api.RunTask(api.Delete("nodes/pve1/lxc/180"));
        await FluentActions.Awaiting(() => ConnectAsync(address, port)).Should().ThrowAsync<SocketException>();
    }

    [Fact]
    public async Task A_guest_without_a_ctrlable_type_runs_no_app_and_every_type_has_its_own_port()
    {
        var (sim, api) = await Sims.Start(scale: 0.02);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate2}/clone", ("newid", "181"), ("hostname", "plain")));
        await api.RunTask(api.Post("nodes/pve1/lxc/181/status/start"));
        await Until.Value(() => AddressOf(sim, 181), "CT 181 has its address");

        sim.AppRunning(181).Should().BeNull();
        (await sim.StopAppAsync(181)).Should().BeFalse();
        sim.AppPorts!.Keys.Should().BeEquivalentTo(["zwavejs", "zigbee2mqtt", "docker-portainer", "frigate", "freepbx"]);
        sim.AppPorts.Values.Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task Stopping_a_home_assistant_guest_s_app_stops_core_and_a_later_vm_restart_brings_it_back()
    {
        var (sim, api) = await Sims.Start(scale: 0.05);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(9301, "ctrlable-pro", GuestKind.Qemu, DiskGiB: 32) { Tags = ["ctrlable", HomeAssistantMarker.Tag], HomeAssistantCoreOnDisk = true });
        await api.RunTask(api.Post("nodes/pve1/qemu/9301/clone", ("newid", "182"), ("name", "site-ha")));
        await api.RunTask(api.Post("nodes/pve1/qemu/182/status/start"));
        var ha = await Until.Value(() => sim.HomeAssistant(182), "VM 182's Home Assistant booted");
        await ha.WaitForPhaseAsync(HaPhase.Running);

        (await sim.StopAppAsync(182)).Should().BeTrue();
        await ha.WaitForPhaseAsync(HaPhase.Down);
        sim.AppRunning(182).Should().BeFalse();
        sim.StartApp(182).Should().BeTrue();
        await ha.WaitForPhaseAsync(HaPhase.Running);

        // Stopped by hand, then the VM restarts: Core comes back with the VM, as a real restart brings Core.
        (await sim.StopAppAsync(182)).Should().BeTrue();
        await ha.WaitForPhaseAsync(HaPhase.Down);
        await api.RunTask(api.Post("nodes/pve1/qemu/182/status/stop"));
        await api.RunTask(api.Post("nodes/pve1/qemu/182/status/start"));
        await ha.WaitForPhaseAsync(HaPhase.Running);
        sim.AppRunning(182).Should().BeTrue();
    }

    [Fact]
    public async Task A_new_DHCP_lease_moves_the_guest_s_reported_address_and_its_app_while_a_static_address_stays()
    {
        var (sim, api) = await Sims.Start(scale: 0.02);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(9302, "frigate-tmpl", GuestKind.Lxc) { Tags = ["ctrlable", "frigate"] });
        await api.RunTask(api.Post("nodes/pve1/lxc/9302/clone", ("newid", "183"), ("hostname", "site-frigate")));
        await api.RunTask(api.Post("nodes/pve1/lxc/9302/clone", ("newid", "184"), ("hostname", "site-frigate-2")));
        await api.Put("nodes/pve1/lxc/184/config", ("net0", "name=eth0,bridge=vmbr0,ip=127.0.10.178/24,gw=127.0.10.1"));
        await api.RunTask(api.Post("nodes/pve1/lxc/183/status/start"));
        await api.RunTask(api.Post("nodes/pve1/lxc/184/status/start"));
        var old = await Until.Value(() => AddressOf(sim, 183), "CT 183 has its address");
        await Until.Value(() => AddressOf(sim, 184), "CT 184 has its address");
        await Until.True(() => sim.AppRunning(183) == true, "CT 183's app is up");
        var port = sim.AppPorts!["frigate"];
        using var admin = sim.CreateClient();

        var moved = await admin.PostAsJsonAsync(new Uri(sim.BaseAddress, "/_sim/guests/183/address"), new { address = "127.0.10.177" });

        moved.StatusCode.Should().Be(HttpStatusCode.OK, await moved.Content.ReadAsStringAsync());
        var interfaces = (await api.Get("nodes/pve1/lxc/183/interfaces")).Data!.AsArray();
        interfaces.Select(i => i!["inet"]?.GetValue<string>()).Should().Contain("127.0.10.177/24").And.NotContain($"{old}/24");
        using var http = new HttpClient();
        (await http.GetAsync($"http://127.0.10.177:{port}/")).StatusCode.Should().Be(HttpStatusCode.OK, "the app listens at the new address");
        await FluentActions.Awaiting(() => ConnectAsync(old, port)).Should().ThrowAsync<SocketException>("nothing answers at the old address");

        (await admin.PostAsJsonAsync(new Uri(sim.BaseAddress, "/_sim/guests/184/address"), new { address = "127.0.10.179" })).StatusCode
            .Should().Be(HttpStatusCode.Conflict, "DHCP does not move a static address");
        AddressOf(sim, 184).Should().Be("127.0.10.178");
        (await admin.PostAsJsonAsync(new Uri(sim.BaseAddress, "/_sim/guests/183/address"), new { address = "127.0.10.178" })).StatusCode
            .Should().Be(HttpStatusCode.Conflict, "another running guest holds it");
        (await admin.PostAsJsonAsync(new Uri(sim.BaseAddress, "/_sim/guests/183/address"), new { address = "not-an-address" })).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await admin.PostAsJsonAsync(new Uri(sim.BaseAddress, "/_sim/guests/999/address"), new { address = "127.0.10.180" })).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_new_DHCP_lease_moves_a_home_assistant_guest_s_core_and_its_guest_agent_reports_it()
    {
        var (sim, api) = await Sims.Start(scale: 0.05);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(9303, "ctrlable-pro", GuestKind.Qemu, DiskGiB: 32) { Tags = ["ctrlable", HomeAssistantMarker.Tag], HomeAssistantCoreOnDisk = true });
        await api.RunTask(api.Post("nodes/pve1/qemu/9303/clone", ("newid", "185"), ("name", "site-ha")));
        await api.RunTask(api.Post("nodes/pve1/qemu/185/status/start"));
        var ha = await Until.Value(() => sim.HomeAssistant(185), "VM 185's Home Assistant booted");
        await ha.WaitForPhaseAsync(HaPhase.Running);

        sim.ChangeLease(185, IPAddress.Parse("127.0.10.176")).Should().Be(LeaseChange.Changed);

        await Until.True(() => ha.Address.Equals(IPAddress.Parse("127.0.10.176")), "Home Assistant moved to the new lease");
        using var http = new HttpClient();
        var answered = await Until.Value(async () =>
        {
            try
            {
                return (await http.GetAsync($"http://127.0.10.176:{ha.CorePort}/api/onboarding")).StatusCode.ToString();
            }
            catch (HttpRequestException)
            {
                return null;
            }
        }, "Core answers at the new lease");
        answered.Should().Be(nameof(HttpStatusCode.OK));
        var agent = await Until.Value(async () => (await api.Get("nodes/pve1/qemu/185/agent/network-get-interfaces")).Data, "the guest agent answers");
        agent!["result"]!.AsArray().SelectMany(i => i!["ip-addresses"]!.AsArray()).Select(a => a!["ip-address"]!.GetValue<string>()).Should().Contain("127.0.10.176");
    }

    private static string? AddressOf(PveSimulator sim, int vmid)
    {
        lock (sim.State.Sync)
        {
            return sim.State.Guest(vmid) is { NetworkUp: true, Address: { } address } ? address.ToString() : null;
        }
    }

    private static async Task ConnectAsync(string address, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Parse(address), port);
    }
}
