using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Provision;

/// <summary>The first-boot contract: who may fetch an assignment, how often, and where guests find the orchestrator.</summary>
public sealed class ProvisionOptions
{
    public const string Section = "Provision";

    /// <summary>
    /// The caller of the provision endpoints must use an address that Proxmox reports for the guest it claims
    /// to be (LXC interfaces, QEMU guest agent). The release secret is in every clone of a release, so anyone
    /// who has one clone's disk has it; the address binding keeps such a copy from fetching a sibling's
    /// assignment. Switch off only where guests reach the orchestrator through NAT or a proxy.
    /// </summary>
    public bool RequireGuestAddress { get; set; } = true;

    /// <summary>Assignment and complete calls per client address and minute.</summary>
    public int PermitLimit { get; set; } = 30;

    /// <summary>
    /// The https:// URL the orchestrator writes into firstboot.env for simulated guests (demo mode, tests); real
    /// templates get the host's ORCHESTRATOR_URL from ctrlable-build.conf. Empty = the first https listen URL (in demo
    /// mode, the loopback HTTPS listener).
    /// </summary>
    public string GuestUrl { get; set; } = "";
}

public sealed class ProvisionOptionsValidator : IValidateOptions<ProvisionOptions>
{
    public ValidateOptionsResult Validate(string? name, ProvisionOptions options)
    {
        var errors = new List<string>();
        if (options.PermitLimit < 1)
        {
            errors.Add("Provision:PermitLimit must be at least 1.");
        }

        if (options.GuestUrl.Length > 0 && (!Uri.TryCreate(options.GuestUrl, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"Provision:GuestUrl must be an https:// URL guests can reach, such as https://192.168.1.5:8443 (got '{options.GuestUrl}').");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
