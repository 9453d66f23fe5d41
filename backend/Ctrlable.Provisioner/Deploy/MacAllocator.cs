using System.Security.Cryptography;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Fresh MACs in Proxmox's BC:24:11 range, unique among every guest the orchestrator knows: its own
/// instances and every guest Proxmox shows it (read once, then kept up to date in memory).
/// </summary>
public sealed class MacAllocator(ProxmoxClient proxmox, InstanceRepository instances)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private HashSet<string>? _known;

    public async Task<string> AllocateAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            _known ??= await LoadAsync(ct);
            string mac;
            do
            {
                var b = RandomNumberGenerator.GetBytes(3);
                mac = $"BC:24:11:{b[0]:X2}:{b[1]:X2}:{b[2]:X2}";
            }
            while (!_known.Add(mac));

            return mac;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<HashSet<string>> LoadAsync(CancellationToken ct)
    {
        var known = new HashSet<string>(await instances.KnownMacsAsync(ct), StringComparer.OrdinalIgnoreCase);
        var guests = (await proxmox.GetClusterResourcesAsync("vm", ct)).Where(r => r.Vmid is not null && r.Node is not null && r.Kind is not null);
        foreach (var guest in guests)
        {
            var config = await proxmox.GetGuestConfigAsync(guest.Node!, guest.Kind!.Value, guest.Vmid!.Value, ct);
            foreach (var (key, value) in config)
            {
                if (key.StartsWith("net", StringComparison.Ordinal) && NetConfig.MacOf(value) is { } mac)
                {
                    known.Add(mac);
                }
            }
        }

        return known;
    }
}
