namespace Ctrlable.Provisioner.Proxmox;

/// <summary>
/// A Proxmox host that stands in when none is saved in Settings or configured (Proxmox:Url). The product registers
/// none, so it refuses to serve without a host; the demo assembly (Ctrlable.Provisioner.Demo) registers its emulator
/// through the startup hook of <see cref="Program.RunAsync"/>.
/// </summary>
public interface IProxmoxStandIn
{
    /// <summary>Starts the stand-in before the app serves and returns the connection to it.</summary>
    Task<ProxmoxConnection> StartAsync(WebApplication app, CancellationToken ct);
}
