using System.Net;
using System.Net.Sockets;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Provision;

/// <summary>A static plan cannot give an instance an address (its range is used up).</summary>
public sealed class AddressingException(string message) : Exception(message);

/// <summary>
/// Gives instances static addresses from their site's plan: the lowest address of the plan's range that no live
/// instance of any project holds and that no guest Proxmox shows the orchestrator uses — LXC <c>ip=</c> and QEMU
/// cloud-init <c>ipconfigN</c> in every guest's config, and what running guests report (LXC interfaces, the QEMU guest
/// agent where it answers). Pipelines of this process allocate one at a time; the database's unique index on live
/// instances' addresses settles races with anything else, as for VMIDs. The address is recorded before it is used, so a
/// restarted deploy writes the same one.
/// </summary>
public sealed class AddressAllocator(ProxmoxClient proxmox, InstanceRepository instances, ILogger<AddressAllocator> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The instance's address under <paramref name="plan"/>: the recorded one while the plan allows it, else a new one.</summary>
    public async Task<IPAddress> AllocateAsync(long instanceId, AddressPlan plan, CancellationToken ct)
    {
        if (Held(await instances.GetAsync(instanceId, ct), plan) is { } held)
        {
            return held;
        }

        await _gate.WaitAsync(ct);
        try
        {
            // Another pipeline may have allocated for this instance meanwhile (Home Assistant's address is asked for by its siblings).
            var instance = await instances.GetAsync(instanceId, ct) ?? throw new InvalidOperationException($"Instance {instanceId} does not exist.");
            if (Held(instance, plan) is { } again)
            {
                return again;
            }

            var shown = await AddressesProxmoxShowsAsync(ct);
            while (true)
            {
                var reserved = await instances.ReservedStaticIpsAsync(ct);
                var candidate = plan.Candidates().FirstOrDefault(a => !reserved.Contains(a.ToString()) && !shown.Contains(a))
                    ?? throw new AddressingException(
                        $"No free address left in {plan.Range} for {instance.Hostname}: every one is held by an instance or used by a guest Proxmox shows. Widen the site's range or delete instances.");
                if (await instances.TryReserveStaticIpAsync(instance.Id, candidate.ToString(), ct))
                {
                    logger.LogInformation("Instance {Instance} ({Hostname}) gets the static address {Address}", instance.Id, instance.Hostname, candidate);
                    return candidate;
                }

                // Taken by another process between the read and the write: look again.
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static IPAddress? Held(InstanceRow? instance, AddressPlan plan) =>
        instance?.StaticIp is { } text && IPAddress.TryParse(text, out var address) && plan.Allows(address) ? address : null;

    /// <summary>Every IPv4 address a guest Proxmox shows the orchestrator has configured or reports.</summary>
    private async Task<HashSet<IPAddress>> AddressesProxmoxShowsAsync(CancellationToken ct)
    {
        var found = new HashSet<IPAddress>();
        var guests = (await proxmox.GetClusterResourcesAsync("vm", ct)).Where(r => r.Vmid is not null && r.Node is not null && r.Kind is not null);
        foreach (var guest in guests)
        {
            var kind = guest.Kind!.Value;
            try
            {
                foreach (var (key, value) in await proxmox.GetGuestConfigAsync(guest.Node!, kind, guest.Vmid!.Value, ct))
                {
                    if ((key.StartsWith("net", StringComparison.Ordinal) || key.StartsWith("ipconfig", StringComparison.Ordinal)) && ConfiguredAddress(value) is { } configured)
                    {
                        found.Add(configured);
                    }
                }
            }
            catch (ProxmoxException ex) when (ex.Status is HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
            {
                // Destroyed meanwhile, or not readable: nothing to learn from it.
            }

            if (guest.Status != "running" || guest.Template == true)
            {
                continue;
            }

            try
            {
                foreach (var address in ReportedAddresses(await proxmox.GetGuestInterfacesAsync(guest.Node!, kind, guest.Vmid!.Value, ct)))
                {
                    found.Add(address);
                }
            }
            catch (ProxmoxException ex) when ((int)ex.Status >= 400 && (int)ex.Status < 600)
            {
                // The guest agent is off or not running (500), or the token may not ask it: the config is what we know.
            }
        }

        return found;
    }

    /// <summary>The address of <c>ip=192.168.1.5/24</c> in an LXC <c>netN</c> or QEMU <c>ipconfigN</c> value; null for dhcp, manual or none.</summary>
    internal static IPAddress? ConfiguredAddress(string value)
    {
        foreach (var part in value.Split(','))
        {
            var kv = part.Split('=', 2);
            if (kv.Length == 2 && kv[0] == "ip")
            {
                var slash = kv[1].IndexOf('/', StringComparison.Ordinal);
                return IPAddress.TryParse(slash < 0 ? kv[1] : kv[1][..slash], out var address) && address.AddressFamily == AddressFamily.InterNetwork ? address : null;
            }
        }

        return null;
    }

    private static IEnumerable<IPAddress> ReportedAddresses(IReadOnlyList<GuestInterface>? interfaces) =>
        (interfaces ?? []).SelectMany(nic => nic.Addresses()).Where(a => a.AddressFamily == AddressFamily.InterNetwork);
}
