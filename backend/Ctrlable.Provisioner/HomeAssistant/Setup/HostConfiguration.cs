using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>Before the first wiring: Home Assistant OS's host name, and under a static plan its LAN address.</summary>
public sealed class HostConfiguration(
    PhaseSupport support,
    InstanceRepository instances,
    HomeAssistantRepository sites,
    HomeAssistantClient ha,
    HomeAssistantCredentials credentials,
    AddressAllocator addresses,
    InstanceSteps steps,
    TimeProvider time,
    ILogger<HostConfiguration> logger)
{
    /// <summary>
    /// Home Assistant OS's own host name becomes the instance's (Supervisor's host options), and under a static plan its
    /// LAN interface gets the instance's address, the gateway and the DNS servers (Supervisor's network API). Each part
    /// is recorded once done; the address is recorded before it is asked for, so a resumed flow looks for Home Assistant
    /// there as well as at the address it had.
    /// </summary>
    public async Task ConfigureAsync(InstanceRow instance, CancellationToken ct)
    {
        var token = await credentials.TokenAsync(instance.Id, ct)
            ?? throw new HomeAssistantException("The orchestrator holds no token for this Home Assistant; retry the instance to sign in again.");
        var site = await sites.GetAsync(instance.Id, ct);
        if (site.HostnameSetAt is null)
        {
            await using (var socket = await HomeAssistantSocket.ConnectAsync(await support.UrlAsync(instance, ct), token, support.RequestTimeout, ct))
            {
                var info = await PhaseSupport.SupervisorAsync(socket, "/host/info", "get", null, ct);
                if (!(info.ValueKind == JsonValueKind.Object && info.TryGetProperty("hostname", out var name) && name.GetString() == instance.Hostname))
                {
                    await steps.SayAsync(instance, $"Naming Home Assistant's host {instance.Hostname}", ct);
                    await PhaseSupport.SupervisorAsync(socket, "/host/options", "post", new JsonObject { ["hostname"] = instance.Hostname }, ct);
                }
            }

            await sites.SetHostnameSetAsync(instance.Id, ct);
            await steps.PointAsync(instance.Id, HomeAssistantSetup.HostnameSet, ct);
        }

        var settings = await SiteSettings.OfProjectAsync(instances, instance.ProjectId, ct);
        if (AddressPlan.Of(settings.Addressing) is not { } plan)
        {
            return;
        }

        var address = await addresses.AllocateAsync(instance.Id, plan, ct);
        site = await sites.GetAsync(instance.Id, ct);
        if (site.NetworkSetAt is not null && site.NetworkAddress == address.ToString())
        {
            return;
        }

        await SetStaticAddressAsync(instance, site, plan, address, token, ct);
    }

    private async Task SetStaticAddressAsync(InstanceRow instance, HomeAssistantSite site, AddressPlan plan, IPAddress address, string token, CancellationToken ct)
    {
        var target = address.ToString();
        var url = await support.UrlAsync(instance, ct);
        if (url.Host != target && site.NetworkAddress == target && await ha.FindLivePortAsync(target, ct) is { } moved)
        {
            // Asked before a restart (or the answer was lost as the address moved): Home Assistant is there already.
            url = await support.MoveToAsync(instance, target, moved, ct);
        }

        await using (var socket = await HomeAssistantSocket.ConnectAsync(url, token, support.RequestTimeout, ct))
        {
            var network = await PhaseSupport.SupervisorAsync(socket, "/network/info", "get", null, ct);
            if (url.Host == target && HasStaticAddress(network, plan, address))
            {
                await sites.SetNetworkSetAsync(instance.Id, ct);
                return;
            }

            var nic = LanInterface(network, url.Host)
                ?? throw new HomeAssistantException("Home Assistant's Supervisor reports no Ethernet interface to give the static address to.");
            await sites.SetNetworkRequestedAsync(instance.Id, target, ct);
            await steps.SayAsync(instance, $"Giving Home Assistant its address {target} ({nic})", ct);
            var body = new JsonObject
            {
                ["ipv4"] = new JsonObject
                {
                    ["method"] = "static",
                    ["address"] = new JsonArray(plan.Cidr(address)),
                    ["gateway"] = plan.Gateway.ToString(),
                    ["nameservers"] = new JsonArray([.. plan.DnsServers.Select(d => (JsonNode)d.ToString())]),
                },
            };
            try
            {
                await PhaseSupport.SupervisorAsync(socket, $"/network/interface/{Uri.EscapeDataString(nic)}/update", "post", body, ct);
            }
            catch (HomeAssistantException ex) when (ex.IsTransient || ex.InnerException is OperationCanceledException)
            {
                // The address moved under this connection: the answer is lost, the change most likely made. Look for it.
                logger.LogInformation("Instance {Instance} ({Hostname}): the connection ended while the address was set ({Reason}); looking for Home Assistant at {Address}", instance.Id, instance.Hostname, ex.Message, target);
            }
        }

        await steps.PointAsync(instance.Id, HomeAssistantSetup.NetworkRequested, ct);
        url = await WaitAtAsync(instance, target, ct);

        // Home Assistant answers at its address: its settings must be the plan's.
        await using (var socket = await HomeAssistantSocket.ConnectAsync(url, token, support.RequestTimeout, ct))
        {
            if (!HasStaticAddress(await PhaseSupport.SupervisorAsync(socket, "/network/info", "get", null, ct), plan, address))
            {
                throw new HomeAssistantException($"Home Assistant answers at {target}, but its Supervisor does not report the static address {plan.Cidr(address)} via {plan.Gateway}: set it by hand (Settings → System → Network) or retry the instance.");
            }
        }

        await sites.SetNetworkSetAsync(instance.Id, ct);
        logger.LogInformation("Instance {Instance} ({Hostname}): Home Assistant has its static address {Address}", instance.Id, instance.Hostname, target);
    }

    /// <summary>Waits (until the step's deadline) for Home Assistant to answer at its new address, and records it there.</summary>
    private async Task<Uri> WaitAtAsync(InstanceRow instance, string address, CancellationToken ct)
    {
        var deadline = await support.DeadlineAsync(instance, support.Options.WiringWaitSeconds, ct);
        while (true)
        {
            if (await ha.FindLivePortAsync(address, ct) is { } port)
            {
                return await support.MoveToAsync(instance, address, port, ct);
            }

            if (time.GetUtcNow() > deadline)
            {
                throw new HomeAssistantException(
                    $"Home Assistant did not answer at its new address {address} after its network settings were changed. Check that the site's plan (gateway, VLAN, bridge) lets the orchestrator reach it; Home Assistant's console shows its address ('ha network info').");
            }

            await steps.SayAsync(instance, $"Waiting for Home Assistant at its new address {address}", ct);
            await Task.Delay(support.Poll, time, ct);
        }
    }

    /// <summary>
    /// The interface to address (Supervisor's <c>/network/info</c>, supervisor/api/network.py): the Ethernet one that
    /// carries <paramref name="currentAddress"/>, else the primary one, else the first Ethernet one.
    /// </summary>
    internal static string? LanInterface(JsonElement network, string currentAddress)
    {
        var ethernet = Interfaces(network).Where(i => Text(i, "type") == "ethernet" && Text(i, "interface") is not null).ToList();
        var carrying = ethernet.FirstOrDefault(i => Ipv4Addresses(i).Any(a => a.Split('/')[0] == currentAddress));
        var primary = ethernet.FirstOrDefault(i => i.TryGetProperty("primary", out var p) && p.ValueKind == JsonValueKind.True);
        var chosen = carrying.ValueKind == JsonValueKind.Object ? carrying : primary.ValueKind == JsonValueKind.Object ? primary : ethernet.FirstOrDefault();
        return chosen.ValueKind == JsonValueKind.Object ? Text(chosen, "interface") : null;
    }

    /// <summary>Whether an Ethernet interface has exactly the plan's static IPv4 settings for <paramref name="address"/>.</summary>
    internal static bool HasStaticAddress(JsonElement network, AddressPlan plan, IPAddress address)
    {
        var dns = plan.DnsServers.Select(d => d.ToString()).Order(StringComparer.Ordinal).ToList();
        return Interfaces(network).Any(i =>
            i.TryGetProperty("ipv4", out var v4) && v4.ValueKind == JsonValueKind.Object
            && Text(v4, "method") == "static"
            && Ipv4Addresses(i).Contains(plan.Cidr(address))
            && Text(v4, "gateway") == plan.Gateway.ToString()
            && v4.TryGetProperty("nameservers", out var servers) && servers.ValueKind == JsonValueKind.Array
            && servers.EnumerateArray().Select(s => s.GetString() ?? "").Order(StringComparer.Ordinal).SequenceEqual(dns));
    }

    /// <summary>The interfaces of Supervisor's <c>/network/info</c> answer; none when it has another shape.</summary>
    private static IEnumerable<JsonElement> Interfaces(JsonElement network) =>
        network.ValueKind == JsonValueKind.Object && network.TryGetProperty("interfaces", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray()
            : [];

    private static IEnumerable<string> Ipv4Addresses(JsonElement nic) =>
        nic.TryGetProperty("ipv4", out var v4) && v4.ValueKind == JsonValueKind.Object && v4.TryGetProperty("address", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(a => a.GetString()).OfType<string>()
            : [];

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
