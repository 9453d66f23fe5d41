using System.Text.RegularExpressions;
using FluentValidation;

namespace Ctrlable.Provisioner.Projects;

public sealed record CreateProjectRequest(string Name, string? Slug, SiteSettings? Settings);

public sealed record UpdateProjectRequest(string Name, SiteSettings Settings);

public sealed partial class CreateProjectValidator : AbstractValidator<CreateProjectRequest>
{
    public CreateProjectValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;
        RuleFor(r => r.Name).NotEmpty().MaximumLength(80);
        RuleFor(r => r.Slug!).Must(s => Slug().IsMatch(s))
            .When(r => r.Slug is not null)
            .WithMessage("Slug must be 2-32 characters of a-z, 0-9 and '-', starting with a letter (it becomes part of every hostname).");
        RuleFor(r => r.Settings!).SetValidator(new SiteSettingsValidator()).When(r => r.Settings is not null);
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$")]
    internal static partial Regex Slug();
}

public sealed class UpdateProjectValidator : AbstractValidator<UpdateProjectRequest>
{
    public UpdateProjectValidator()
    {
        RuleFor(r => r.Name).NotEmpty().MaximumLength(80);
        RuleFor(r => r.Settings).NotNull().SetValidator(new SiteSettingsValidator());
    }
}

public sealed partial class SiteSettingsValidator : AbstractValidator<SiteSettings>
{
    private static readonly string[] Adapters = ["zstack", "ember", "deconz", "zigate", "zboss"];

    public SiteSettingsValidator()
    {
        // Stop at a rule's first failure: later checks assume the value exists.
        RuleLevelCascadeMode = CascadeMode.Stop;
        RuleFor(s => s.Zigbee).NotNull().SetValidator(new CoordinatorValidator(zigbee: true));
        RuleFor(s => s.Zwave).NotNull().SetValidator(new CoordinatorValidator(zigbee: false));
        RuleFor(s => s.Mqtt!.Host).NotEmpty().Must(BeAHost).WithMessage("MQTT host must be a host name or IP address.").When(s => s.Mqtt is not null);
        RuleFor(s => s.Mqtt!.Port).InclusiveBetween(1, 65535).When(s => s.Mqtt is not null);
        RuleForEach(s => s.Cameras).ChildRules(camera =>
        {
            camera.RuleLevelCascadeMode = CascadeMode.Stop;
            camera.RuleFor(c => c.Name).NotEmpty().MaximumLength(40).Matches("^[A-Za-z0-9_-]+$").WithMessage("Camera names may contain letters, digits, '-' and '_' (Frigate uses them as ids).");
            camera.RuleFor(c => c.StreamUrl).Must(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "rtsp" or "rtsps" or "http" or "https")
                .WithMessage("Stream URL must be an rtsp://, rtsps://, http:// or https:// URL.");
        });
        RuleFor(s => s.Cameras).Must(c => c.Select(x => x.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count() == c.Count).WithMessage("Camera names must be unique.");
        RuleFor(s => s.Network.Vlan!.Value).InclusiveBetween(1, 4094).When(s => s.Network.Vlan is not null).OverridePropertyName("network.vlan");
        RuleFor(s => s.Network.Bridge!).Matches("^[A-Za-z][A-Za-z0-9_.-]{0,14}$").When(s => s.Network.Bridge is not null)
            .WithMessage("Bridge must be a Linux interface name such as vmbr0.").OverridePropertyName("network.bridge");
        RuleFor(s => s.Node!).Matches("^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$").When(s => s.Node is not null).WithMessage("Node must be a Proxmox node name.");
        RuleFor(s => s.Storage!).Matches("^[a-z][a-z0-9._-]*$").When(s => s.Storage is not null).WithMessage("Storage must be a Proxmox storage id such as local-lvm.");
    }

    internal static bool BeAHost(string? host) => host is not null && Uri.CheckHostName(host) != UriHostNameType.Unknown;

    private sealed class CoordinatorValidator : AbstractValidator<CoordinatorSettings>
    {
        public CoordinatorValidator(bool zigbee)
        {
            RuleLevelCascadeMode = CascadeMode.Stop;
            RuleFor(c => c.Host).NotEmpty().Must(BeAHost).WithMessage("Host must be the coordinator's host name or IP address.").When(c => c.Mode == CoordinatorMode.Network);
            RuleFor(c => c.Port).InclusiveBetween(1, 65535).When(c => c.Mode == CoordinatorMode.Network);
            RuleFor(c => c.UsbDevice).NotEmpty().Must(d => d!.StartsWith("/dev/", StringComparison.Ordinal)).WithMessage("USB device must be a path under /dev/, e.g. /dev/serial/by-id/...").When(c => c.Mode == CoordinatorMode.Usb);
            if (zigbee)
            {
                RuleFor(c => c.Adapter).Must(a => Adapters.Contains(a)).WithMessage($"Adapter must be one of: {string.Join(", ", Adapters)}.");
            }
        }
    }
}
