using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Seeding;
using Microsoft.Extensions.Logging.Abstractions;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// A site's addressing: DHCP (default) or a static plan the orchestrator allocates from — an address per instance that
/// no live instance of any project holds and no guest Proxmox shows uses, safe under concurrent allocations — written
/// into LXC net0 and into Home Assistant through Supervisor; the wiring reaches guests by address (or by host name
/// only where the site's DNS serves them).
/// </summary>
public sealed class AddressingTests
{
    private static object StaticPlan(string prefix, bool dnsServesHostnames = false) => new
    {
        mode = "static",
        network = $"{prefix}.0/24",
        range = $"{prefix}.16/28",
        gateway = $"{prefix}.1",
        dnsServers = new[] { $"{prefix}.1" },
        dnsServesHostnames,
    };

    // --- Validation -----------------------------------------------------------------------------

    [Fact]
    public async Task A_static_plan_is_validated_with_every_field_error_at_once()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo());
        using var client = await app.CreateClientAsync(Role.Operator);

        async Task<Dictionary<string, string[]>> ErrorsAsync(object addressing)
        {
            var response = await client.PostAsJsonAsync("/api/projects", new { name = "Site", settings = new { zigbee = new { host = "10.0.0.5" }, zwave = new { host = "10.0.0.6" }, addressing } });
            response.StatusCode.Should().Be(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").Deserialize<Dictionary<string, string[]>>()!;
        }

        var empty = await ErrorsAsync(new { mode = "static" });
        empty.Keys.Should().BeEquivalentTo(["settings.addressing.network", "settings.addressing.range", "settings.addressing.gateway", "settings.addressing.dnsServers"]);

        var wrong = await ErrorsAsync(new { mode = "static", network = "192.168.1.10/24", range = "10.0.0.0/28", gateway = "192.168.2.1", dnsServers = new[] { "192.168.1.1", "dns.local" } });
        wrong["settings.addressing.network"].Should().ContainSingle().Which.Should().Be("Network must be written with its first address: 192.168.1.0/24.");
        wrong.Should().NotContainKey("settings.addressing.range", "a range cannot be checked against a network that is not valid");
        wrong["settings.addressing.dnsServers[1]"].Should().ContainSingle().Which.Should().Contain("IPv4 address");

        var outside = await ErrorsAsync(new { mode = "static", network = "192.168.1.0/24", range = "192.168.2.0/28", gateway = "192.168.1.255", dnsServers = new[] { "192.168.1.1", "1.1.1.1", "8.8.8.8", "9.9.9.9" } });
        outside["settings.addressing.range"].Should().ContainSingle().Which.Should().Be("Range must lie inside the network 192.168.1.0/24.");
        outside["settings.addressing.gateway"].Should().ContainSingle().Which.Should().Contain("not its network or broadcast address");
        outside["settings.addressing.dnsServers"].Should().ContainSingle().Which.Should().Be("At most three DNS servers.");

        var nothingLeft = await ErrorsAsync(new { mode = "static", network = "192.168.1.0/24", range = "192.168.1.0/31", gateway = "192.168.1.1", dnsServers = new[] { "192.168.1.1" } });
        nothingLeft["settings.addressing.range"].Should().ContainSingle().Which.Should().StartWith("Range leaves no address to give out");

        var multicast = await ErrorsAsync(new { mode = "static", network = "224.0.0.0/24", range = "224.0.0.16/28", gateway = "224.0.0.1", dnsServers = new[] { "224.0.0.1" } });
        multicast.Should().ContainKey("settings.addressing.network");

        // DHCP needs nothing; a valid plan is stored and comes back as sent.
        (await client.PostAsJsonAsync("/api/projects", new { name = "Dhcp site", settings = new { zigbee = new { host = "10.0.0.5" }, zwave = new { host = "10.0.0.6" }, addressing = new { mode = "dhcp" } } }))
            .StatusCode.Should().Be(HttpStatusCode.Created);
        var created = await client.PostAsJsonAsync("/api/projects", new { name = "Static site", settings = new { zigbee = new { host = "10.0.0.5" }, zwave = new { host = "10.0.0.6" }, addressing = StaticPlan("192.168.7") } });
        created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var addressing = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("settings").GetProperty("addressing");
        addressing.GetProperty("mode").GetString().Should().Be("static");
        addressing.GetProperty("range").GetString().Should().Be("192.168.7.16/28");
        addressing.GetProperty("dnsServesHostnames").GetBoolean().Should().BeFalse();
    }

    [Fact]
    public void A_plan_gives_out_its_range_but_never_the_network_or_broadcast_address_the_gateway_or_a_DNS_server()
    {
        var plan = AddressPlan.Of(new AddressingSettings
        {
            Mode = AddressingMode.Static,
            Network = "10.1.2.0/28",
            Range = "10.1.2.0/28",
            Gateway = "10.1.2.1",
            DnsServers = ["10.1.2.2"],
        })!;

        plan.Candidates().Select(a => a.ToString()).Should().Equal(Enumerable.Range(3, 12).Select(n => $"10.1.2.{n}"));
        plan.Cidr(IPAddress.Parse("10.1.2.3")).Should().Be("10.1.2.3/28");
        AddressPlan.Of(new AddressingSettings()).Should().BeNull("DHCP has no plan");
    }

    // --- Allocation -----------------------------------------------------------------------------

    [Fact]
    public async Task Concurrent_allocations_get_distinct_addresses_that_no_instance_holds_and_no_guest_Proxmox_shows_uses()
    {
        await using var pve = await ProxmoxHarness.StartAsync(foreignGuests: true);
        var sim = pve.Sim;
        // In the product's pool (its token sees them): a stopped container configured with 127.0.10.2, a running VM whose
        // guest agent reports its DHCP lease; 10000 (a foreign container, running) reports its lease too.
        sim.AddGuest(new TemplateSeed(600, "admin-vm", SimGuestKind.Qemu, 4) { Pool = "ctrlable", Running = true }, isTemplate: false);
        lock (sim.State.Sync)
        {
            sim.State.Guests[999].Config["net0"] = sim.State.Guests[999].Config["net0"].Replace("ip=dhcp", "ip=127.0.10.2/24,gw=127.0.10.1", StringComparison.Ordinal);
        }

        var running = await WaitForAsync(() =>
        {
            lock (sim.State.Sync)
            {
                var ready = sim.State.Guests[600] is { AgentUp: true, Address: not null } && sim.State.Guests[10000] is { NetworkUp: true, Address: not null };
                return ready ? new[] { sim.State.Guests[600].Address!.ToString(), sim.State.Guests[10000].Address!.ToString() } : null;
            }
        });

        using var app = new ProvisionerApp(settings: ProvisionerApp.ProxmoxSettings(pve));
        await app.EnsureSetUpAsync();
        await app.Service<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", null, [], DateTimeOffset.UtcNow, CancellationToken.None);
        var instances = app.Service<InstanceRepository>();
        // Another project's instance holds 127.0.10.3.
        var other = await InsertAsync(instances, "other", 1);
        (await instances.TryReserveStaticIpAsync(other[0], "127.0.10.3", CancellationToken.None)).Should().BeTrue();

        var plan = AddressPlan.Of(new AddressingSettings { Mode = AddressingMode.Static, Network = "127.0.10.0/24", Range = "127.0.10.0/28", Gateway = "127.0.10.1", DnsServers = ["127.0.10.1"] })!;
        var ids = await InsertAsync(instances, "site", 10);
        // Two allocators: this process's and one standing for a second process on the same database.
        var allocators = new[] { app.Service<AddressAllocator>(), new AddressAllocator(app.Service<ProxmoxClient>(), instances, NullLogger<AddressAllocator>.Instance) };
        var given = await Task.WhenAll(ids.Select((id, n) => Task.Run(() => allocators[n % 2].AllocateAsync(id, plan, CancellationToken.None))));

        var expected = plan.Candidates().Select(a => a.ToString()).Except(["127.0.10.2", "127.0.10.3", .. running]).ToList();
        given.Select(a => a.ToString()).Should().OnlyHaveUniqueItems().And.BeEquivalentTo(expected);
        (await allocators[0].AllocateAsync(ids[0], plan, CancellationToken.None)).Should().Be(given[0], "an instance keeps the address it was given");
        var more = await InsertAsync(instances, "more", 1);
        var exhausted = async () => await allocators[1].AllocateAsync(more[0], plan, CancellationToken.None);
        (await exhausted.Should().ThrowAsync<AddressingException>()).Which.Message.Should().Contain("No free address left in 127.0.10.0/28");
    }

    [Fact]
    public async Task The_database_lets_one_live_instance_hold_an_address_and_frees_it_when_the_instance_is_deleted()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo());
        await app.EnsureSetUpAsync();
        var instances = app.Service<InstanceRepository>();
        var first = await InsertAsync(instances, "one", 1);
        var second = await InsertAsync(instances, "two", 1);

        (await instances.TryReserveStaticIpAsync(first[0], "10.9.8.7", CancellationToken.None)).Should().BeTrue();
        (await instances.TryReserveStaticIpAsync(second[0], "10.9.8.7", CancellationToken.None)).Should().BeFalse("another project's live instance holds it");
        await app.Service<InstanceTransitions>().SetStateAsync(first[0], InstanceStates.Deleted, "gone");
        (await instances.TryReserveStaticIpAsync(second[0], "10.9.8.7", CancellationToken.None)).Should().BeTrue();
    }

    // --- Deploys --------------------------------------------------------------------------------

    [Fact]
    public async Task A_static_plan_puts_each_guest_at_its_own_address_and_Home_Assistant_is_named_addressed_and_wires_by_address()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await CreateProjectAsync(client, "Static Haus", StaticPlan("127.0.41"));

        (await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "ctrlable-pro", "zwavejs", "zigbee2mqtt", "frigate" } })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var done = await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromMinutes(3));

        done.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", done.Select(i => $"{i.GetProperty("hostname")}: {i.GetProperty("error")}")));
        var rows = (await app.Service<InstanceRepository>().ListByProjectAsync(project, includeDeleted: false, CancellationToken.None)).ToDictionary(r => r.Type);
        var inRange = IPNetwork.Parse("127.0.41.16/28");
        rows.Values.Select(r => r.StaticIp).Should().OnlyHaveUniqueItems().And.OnlyContain(ip => ip != null && inRange.Contains(IPAddress.Parse(ip)));
        rows.Values.Should().OnlyContain(r => r.Ip == r.StaticIp, "every guest is seen at its static address (LXC from boot, Home Assistant once Supervisor moved it)");

        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        foreach (var lxc in rows.Values.Where(r => r.Kind == "lxc"))
        {
            lock (sim.State.Sync)
            {
                var config = sim.State.Guests[(int)lxc.Vmid!.Value].Config;
                config["net0"].Should().Contain($"ip={lxc.StaticIp}/24").And.Contain("gw=127.0.41.1").And.Contain($"hwaddr={lxc.Mac}").And.Contain("bridge=vmbr0");
                config["nameserver"].Should().Be("127.0.41.1");
            }
        }

        var pro = rows[TemplateTypes.CtrlablePro];
        var ha = sim.HomeAssistant((int)pro.Vmid!.Value)!;
        ha.Host.Hostname.Should().Be(pro.Hostname, "Home Assistant OS's own host name is the instance's");
        ha.Host.StaticAddress.Should().Be(IPAddress.Parse(pro.StaticIp!));
        ha.Host.Ipv4Address.Should().Equal($"{pro.StaticIp}/24");
        ha.Host.Ipv4Gateway.Should().Be("127.0.41.1");
        ha.Host.Ipv4Nameservers.Should().Equal("127.0.41.1");
        new Uri(pro.AppUrl!).Host.Should().Be(pro.StaticIp);
        var entries = ha.State.ConfigEntries;
        entries.Single(e => e.Domain == "zwave_js").Data["url"]!.GetValue<string>().Should().Be($"ws://{rows[TemplateTypes.ZwaveJs].StaticIp}:3000");
        entries.Single(e => e.Domain == "frigate").Data["url"]!.GetValue<string>().Should().Be($"http://{rows[TemplateTypes.Frigate].StaticIp}:5000");

        var assignments = app.Service<AssignmentService>();
        foreach (var type in new[] { TemplateTypes.Zigbee2Mqtt, TemplateTypes.Frigate })
        {
            var mqtt = (await assignments.GetAsync(rows[type].Id, CancellationToken.None))!.Mqtt!;
            mqtt.Host.Should().Be(pro.StaticIp, "the broker is reached by its address, not a name the LAN may not resolve");
            mqtt.Server.Should().Be($"mqtt://{pro.StaticIp}:1883");
        }
    }

    [Fact]
    public async Task Concurrent_add_instance_calls_under_a_static_plan_get_distinct_addresses()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await CreateProjectAsync(client, "Static Burst", StaticPlan("127.0.42"));

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })));

        responses.Should().OnlyContain(r => r.StatusCode == HttpStatusCode.Accepted);
        var done = await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromMinutes(3));
        done.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", done.Select(i => i.GetProperty("error").ToString()).Distinct()));
        var addresses = done.Select(i => i.GetProperty("ip").GetString()).ToList();
        addresses.Should().HaveCount(8).And.OnlyHaveUniqueItems().And.OnlyContain(a => IPNetwork.Parse("127.0.42.16/28").Contains(IPAddress.Parse(a!)));
    }

    [Fact]
    public async Task Under_DHCP_guests_reach_their_broker_at_Home_Assistant_s_located_address_not_at_a_name()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Dhcp Haus");

        (await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "ctrlable-pro", "zigbee2mqtt" } })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var done = await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromMinutes(3));

        done.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", done.Select(i => i.GetProperty("error").ToString())));
        var pro = done.Single(i => i.GetProperty("type").GetString() == "ctrlable-pro");
        var zigbee = done.Single(i => i.GetProperty("type").GetString() == "zigbee2mqtt");
        var mqtt = (await app.Service<AssignmentService>().GetAsync(zigbee.GetProperty("id").GetInt64(), CancellationToken.None))!.Mqtt!;
        mqtt.Host.Should().Be(pro.GetProperty("ip").GetString()).And.NotBe("dhcp-haus-ctrlable-pro");
        var ha = app.Service<SimulatedProxmoxHost>().Simulator.HomeAssistant(pro.GetProperty("vmid").GetInt32())!;
        ha.Host.Hostname.Should().Be("dhcp-haus-ctrlable-pro");
        ha.Host.Ipv4Method.Should().Be("auto", "DHCP leaves Home Assistant's network as it is");
        var lxc = app.Service<SimulatedProxmoxHost>().Simulator.State.Guests[zigbee.GetProperty("vmid").GetInt32()].Config;
        lxc["net0"].Should().Contain("ip=dhcp").And.NotContain("gw=");
        lxc.Should().NotContainKey("nameserver");
    }

    [Fact]
    public async Task A_USB_coordinator_is_left_to_root_on_the_host_with_the_exact_command_because_no_API_token_may_set_devN()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var created = await client.PostAsJsonAsync("/api/projects", new
        {
            name = "Usb Haus",
            settings = new { zigbee = new { mode = "usb", usbDevice = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee-if00" }, zwave = new { host = "10.0.0.6" } },
        });
        var project = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        using var progress = app.Service<InstanceChanges>().SubscribeFeed();

        (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zigbee2mqtt" })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var instance = (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();

        instance.GetProperty("needsBinding").GetBoolean().Should().BeTrue();
        var vmid = instance.GetProperty("vmid").GetInt32();
        var messages = new List<string>();
        while (progress.Reader.TryRead(out var step))
        {
            messages.Add(step.Instance?.Message ?? "");
        }

        messages.Should().Contain($"Configured — needs a USB binding on the host: as root on the Proxmox host run 'pct set {vmid} --dev0 /dev/serial/by-id/usb-ITead_Sonoff_Zigbee-if00' and restart the container (Proxmox lets only root@pam pass a device through, not the orchestrator's API token)");
        app.Service<SimulatedProxmoxHost>().Simulator.State.Guests[vmid].Config.Keys.Should().NotContain(k => k.StartsWith("dev", StringComparison.Ordinal),
            "the orchestrator does not try what Proxmox refuses its token");
    }

    // --- Helpers --------------------------------------------------------------------------------

    private static async Task<long> CreateProjectAsync(HttpClient client, string name, object addressing)
    {
        var response = await client.PostAsJsonAsync("/api/projects", new { name, settings = new { zigbee = new { host = "192.168.1.50" }, zwave = new { host = "192.168.1.51", port = 3333 }, addressing } });
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static async Task<List<long>> InsertAsync(InstanceRepository instances, string slug, int count)
    {
        var project = (await instances.InsertProjectAsync(slug, slug, "{}", CancellationToken.None))!.Id;
        var (_, rows) = await instances.InsertDeployAsync(project, slug, "stack", "2026.06", null,
            [.. Enumerable.Range(0, count).Select(_ => new NewInstance(TemplateTypes.ZwaveJs, "lxc", 9001, "pve1", "2026.06"))], CancellationToken.None);
        return [.. rows.Select(r => r.Id)];
    }

    private static async Task<T> WaitForAsync<T>(Func<T?> get) where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (get() is { } value)
            {
                return value;
            }

            DateTime.UtcNow.Should().BeBefore(deadline, "the guests should boot within a minute");
            await Task.Delay(25);
        }
    }
}
