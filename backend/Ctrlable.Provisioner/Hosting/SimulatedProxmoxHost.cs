using Ctrlable.Provisioner.Proxmox;

namespace Ctrlable.Provisioner.Hosting;

/// <summary>
/// Demo mode: with no Proxmox configured, the orchestrator runs the Proxmox emulator in-process and talks
/// to it over HTTPS like to a real node. Placeholder until the emulator lands.
/// </summary>
public sealed class SimulatedProxmoxHost
{
    private ProxmoxConnection? _connection;

    public ProxmoxConnection Connection => _connection ?? throw new InvalidOperationException("The simulated Proxmox host has not been started.");

    public Task StartAsync(CancellationToken ct)
    {
        _ = ct;
        _connection = new ProxmoxConnection(new Uri("https://127.0.0.1:1/"), "ctrlable@pve!provisioner", "unset", "00", simulated: true);
        return Task.CompletedTask;
    }
}
