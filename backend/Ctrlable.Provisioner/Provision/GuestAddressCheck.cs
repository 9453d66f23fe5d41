using System.Net;
using System.Net.Sockets;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Provision;

/// <summary>Whether a first-boot call comes from the guest it names: an address Proxmox reports for that guest.</summary>
public sealed class GuestAddressCheck(ProxmoxClient proxmox, IGuestLocator locator, InstanceTransitions transitions, IOptions<ProvisionOptions> options, ILogger<GuestAddressCheck> logger)
{
    /// <summary>
    /// The call must come from an address Proxmox reports for the guest (unless <see cref="ProvisionOptions.RequireGuestAddress"/>
    /// is off). After the first boot the address the orchestrator last saw the guest at (<c>instances.ip</c>, kept current
    /// under DHCP by the address follower) is taken without asking Proxmox, so a guest's periodic call costs no Proxmox request;
    /// so is it for a first-boot call with the instance credential (<paramref name="withCredential"/>) while personalising.
    /// </summary>
    internal async Task<ProvisionResult?> CheckAsync(ProvisionInstance instance, IPAddress? caller, bool withCredential, CancellationToken ct)
    {
        if (!options.Value.RequireGuestAddress)
        {
            return null;
        }

        var from = caller is { IsIPv4MappedToIPv6: true } ? caller.MapToIPv4() : caller;
        // Likewise during the first boot, for a call with the instance credential from the address the claiming fetch
        // came from (checked against Proxmox then, and recorded by its move to personalising): the guest's confirming
        // fetch and its report cost no Proxmox request on its way to active.
        var known = from is not null && instance.Ip is not null && IPAddress.TryParse(instance.Ip, out var recorded) && recorded.Equals(from);
        if (known && (instance.State is InstanceStates.Active or InstanceStates.Upgrading
                      || (withCredential && instance.State == InstanceStates.Personalising)))
        {
            return null;
        }

        if (from is null || instance.Node is null || instance.Vmid is null)
        {
            return from is null
                ? new ProvisionResult(ProvisionOutcome.AddressMismatch, "The caller's address is unknown.")
                : new ProvisionResult(ProvisionOutcome.NotReady, "The guest's place in Proxmox is not recorded yet; try again shortly.");
        }

        IReadOnlyList<GuestInterface>? interfaces;
        try
        {
            // Where the guest is now: Proxmox may have moved it since its node was recorded.
            var node = await locator.NodeOfAsync(instance.Id, ct) ?? instance.Node;
            interfaces = await proxmox.GetGuestInterfacesAsync(node, instance.Kind == "vm" ? GuestKind.Qemu : GuestKind.Lxc, (int)instance.Vmid.Value, ct);
        }
        catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException or ProxmoxCertificateException or Polly.Timeout.TimeoutRejectedException)
        {
            logger.LogWarning("Cannot check the address of {Hostname}: Proxmox answered {Reason}", instance.Hostname, ex.Message);
            // The guest retries by itself; the dealer sees why its first boot does not move on.
            await transitions.SayAsync(instance.Id, ProvisionService.FirstBoot, $"First boot: the guest called, but {Unavailable(ex)}, so its address cannot be checked; the guest tries again", ct);
            return new ProvisionResult(ProvisionOutcome.ProxmoxUnavailable, "Proxmox could not tell the guest's addresses; try again shortly.");
        }

        var addresses = GuestAddresses(interfaces);
        if (addresses.Count == 0)
        {
            await transitions.SayAsync(instance.Id, ProvisionService.FirstBoot, "First boot: the guest called, but Proxmox reports no address for it yet (is its network up?); the guest tries again", ct);
            return new ProvisionResult(ProvisionOutcome.NotReady, "Proxmox reports no address for the guest yet; try again shortly.");
        }

        if (addresses.Contains(from))
        {
            return null;
        }

        logger.LogWarning("First-boot call for {Hostname} came from {Address}, which Proxmox does not report for the guest", instance.Hostname, from);
        return new ProvisionResult(ProvisionOutcome.AddressMismatch,
            $"The call came from {from}, which is not an address Proxmox reports for {instance.Hostname}.");
    }

    /// <summary>Every address of the guest's interfaces but the loopback interface's.</summary>
    internal static HashSet<IPAddress> GuestAddresses(IReadOnlyList<GuestInterface>? interfaces)
    {
        var result = new HashSet<IPAddress>();
        foreach (var nic in interfaces ?? [])
        {
            if (nic.Name == "lo")
            {
                continue;
            }

            result.UnionWith(nic.Addresses(withInet6: true).Where(address =>
                !address.Equals(IPAddress.Loopback) && !address.Equals(IPAddress.IPv6Loopback)
                && !(address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv6LinkLocal)));
        }

        return result;
    }

    /// <summary>Why Proxmox could not tell a guest's addresses, for the dealer (Proxmox's own text; never a credential).</summary>
    private static string Unavailable(Exception ex) => ex switch
    {
        ProxmoxException p => $"Proxmox answered {(int)p.Status} ({p.ProxmoxMessage})",
        ProxmoxCertificateException => "the Proxmox node's certificate does not match the pinned fingerprint",
        HttpRequestException => "Proxmox could not be reached",
        _ => "Proxmox did not answer in time",
    };
}
