using System.Net;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>
/// Home Assistant step "locating": the VM's LAN address from the guest agent, then the port Home Assistant answers on.
/// </summary>
public sealed class LocatePhase(
    PhaseSupport support,
    InstanceRepository instances,
    HomeAssistantRepository sites,
    HomeAssistantClient ha,
    ProxmoxClient proxmox,
    IGuestLocator locator,
    InstanceSteps steps,
    TimeProvider time)
{
    /// <summary>The VM's address from the guest agent (Home Assistant's own docker and hassio bridges left out), then the port that answers without a redirect.</summary>
    public async Task RunAsync(InstanceRow instance, CancellationToken ct)
    {
        var deadline = await support.DeadlineAsync(instance, support.Options.LocateTimeoutSeconds, ct);
        // Where the VM is now: Proxmox may have moved it since its node was recorded (its guest agent answers there).
        instance = await locator.LocateAsync(instance, ct);
        while (await support.CurrentAsync(instance, ct) is { } current)
        {
            deadline = current.DeadlineAt ?? deadline;
            var address = await AddressAsync(instance, ct);
            if (address is not null && (await instances.GetAsync(instance.Id, ct))?.Ip != address)
            {
                // Known from here on: under DHCP the project's other guests reach their broker (this Home Assistant) by it.
                await instances.SetIpAsync(instance.Id, address, ct);
            }

            if (address is not null && await ha.FindLivePortAsync(address, ct) is { } port)
            {
                await sites.GetAsync(instance.Id, ct);
                var url = await support.MoveToAsync(instance, address, port, ct);
                await support.NextAsync(instance, InstanceStates.Preparing, $"Home Assistant answers at {url}; waiting for it to be ready", support.Options.PrepareTimeoutSeconds, ct);
                return;
            }

            var waiting = address is null
                ? "Waiting for the VM's address (QEMU guest agent)"
                : $"Waiting for Home Assistant at {address} (ports {string.Join(", ", support.Options.ProbePorts)})";
            if (time.GetUtcNow() > deadline)
            {
                await support.FailAsync(instance, "Home Assistant not found", $"{waiting} took longer than {PhaseSupport.Minutes(support.Options.LocateTimeoutSeconds)}. Check that the VM booted, that its QEMU guest agent is enabled (agent: 1) and that it got an address.", ct);
                return;
            }

            await steps.SayAsync(instance, waiting, ct);
            await Task.Delay(support.Poll, time, ct);
        }
    }

    private async Task<string?> AddressAsync(InstanceRow instance, CancellationToken ct)
    {
        IReadOnlyList<GuestInterface>? interfaces;
        try
        {
            interfaces = await proxmox.GetGuestInterfacesAsync(instance.Node!, GuestKind.Qemu, (int)instance.Vmid!.Value, ct);
        }
        catch (ProxmoxException ex) when (ex.Status == HttpStatusCode.InternalServerError)
        {
            // "QEMU guest agent is not running" while the VM boots.
            return null;
        }

        return PrimaryAddress(interfaces);
    }

    /// <summary>
    /// The guest's LAN address: IPv4 before IPv6, never loopback, link-local, Home Assistant's internal networks
    /// (docker0, hassio 172.30.32.0/23, veth*, br-*) or Supervisor's 172.30.232.0/23 DNS network.
    /// </summary>
    internal static string? PrimaryAddress(IReadOnlyList<GuestInterface>? interfaces) => LanAddresses(interfaces).FirstOrDefault();

    /// <summary>
    /// Every LAN address of the guest in <see cref="PrimaryAddress"/>'s order and with its filter; with
    /// <paramref name="mac"/>, only those of the interface with that hardware address (the NIC the orchestrator gave the
    /// guest) where the interface reports one.
    /// </summary>
    internal static IReadOnlyList<string> LanAddresses(IReadOnlyList<GuestInterface>? interfaces, string? mac = null)
    {
        var candidates = new List<IPAddress>();
        foreach (var nic in interfaces ?? [])
        {
            if (nic.Name is "lo" or "hassio" || nic.Name.StartsWith("docker", StringComparison.Ordinal)
                || nic.Name.StartsWith("veth", StringComparison.Ordinal) || nic.Name.StartsWith("br-", StringComparison.Ordinal))
            {
                continue;
            }

            if (mac is not null && (nic.HardwareAddress ?? nic.Hwaddr) is { } reported && !string.Equals(reported, mac, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            candidates.AddRange(nic.Addresses().Where(IsLan));
        }

        return [.. candidates.OrderBy(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 0 : 1).Select(a => a.ToString()).Distinct()];
    }

    private static bool IsLan(IPAddress address)
    {
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return !address.Equals(IPAddress.IPv6Loopback) && !address.IsIPv6LinkLocal;
        }

        var b = address.GetAddressBytes();
        var loopback = b[0] == 127 && b[1] == 0 && b[2] == 0 && b[3] == 1;
        var linkLocal = b[0] == 169 && b[1] == 254;
        var hassio = b[0] == 172 && b[1] == 30 && (b[2] & 0xFE) is 32 or 232;
        return !loopback && !linkLocal && !hassio;
    }
}
