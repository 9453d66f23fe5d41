namespace Ctrlable.Provisioner.Deploy;

public sealed class DeployOptions
{
    public const string Section = "Deploy";

    /// <summary>Lowest VMID given to deployed guests (templates live at 9000+ by default).</summary>
    public int VmidMin { get; set; } = 1000;

    /// <summary>Highest VMID given to deployed guests.</summary>
    public int VmidMax { get; set; } = 8999;

    /// <summary>How long a started guest may take to report its first boot complete.</summary>
    public double FirstBootTimeoutSeconds { get; set; } = 600;

    /// <summary>Upper bound for one Proxmox task (a full clone of a large template can take minutes).</summary>
    public double TaskTimeoutSeconds { get; set; } = 900;
}
