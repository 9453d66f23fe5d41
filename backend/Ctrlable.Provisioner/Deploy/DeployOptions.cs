using Microsoft.Extensions.Options;

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

    /// <summary>
    /// Attempts per step when Proxmox answers 5xx or cannot be reached (every step reconciles on re-entry). The default six
    /// wait 1+2+4+8+16 s in all: a host busy for half a minute (a backup, pveproxy restarting) does not fail a deploy.
    /// </summary>
    public int TransientAttempts { get; set; } = 6;

    /// <summary>The wait before the second attempt of a step; it doubles before each further one.</summary>
    public double RetryDelaySeconds { get; set; } = 1;
}

/// <summary>Start-up checks of <see cref="DeployOptions"/>: one line per setting out of bounds.</summary>
public sealed class DeployOptionsValidator : IValidateOptions<DeployOptions>
{
    /// <summary>Proxmox's own VMID range (pve-vmid).</summary>
    private const int LowestVmid = 100;
    private const int HighestVmid = 999_999_999;

    public ValidateOptionsResult Validate(string? name, DeployOptions options)
    {
        var errors = new List<string>();
        if (options.VmidMin is < LowestVmid or > HighestVmid || options.VmidMax is < LowestVmid or > HighestVmid || options.VmidMin > options.VmidMax)
        {
            errors.Add($"Deploy:VmidMin and Deploy:VmidMax must be VMIDs between {LowestVmid} and {HighestVmid}, VmidMin not above VmidMax (got {options.VmidMin} and {options.VmidMax}).");
        }

        if (!(options.FirstBootTimeoutSeconds > 0))
        {
            errors.Add($"Deploy:FirstBootTimeoutSeconds must be more than 0 seconds (got {options.FirstBootTimeoutSeconds}).");
        }

        if (!(options.TaskTimeoutSeconds > 0))
        {
            errors.Add($"Deploy:TaskTimeoutSeconds must be more than 0 seconds (got {options.TaskTimeoutSeconds}).");
        }

        if (options.TransientAttempts is < 1 or > 10)
        {
            errors.Add($"Deploy:TransientAttempts must be between 1 and 10 (got {options.TransientAttempts}).");
        }

        if (!(options.RetryDelaySeconds > 0 && options.RetryDelaySeconds <= 60))
        {
            errors.Add($"Deploy:RetryDelaySeconds must be more than 0 and at most 60 seconds (got {options.RetryDelaySeconds}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
