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
        // No slug given: the one derived from the name must do, or the dealer gives one.
        RuleFor(r => r.Slug).Must((r, _) => Slug().IsMatch(ProjectService.Slugify(r.Name)))
            .When(r => r.Slug is null && !string.IsNullOrWhiteSpace(r.Name))
            .WithMessage(r => $"Could not derive a slug from '{r.Name}'; give one (a-z, 0-9, '-').");
        // Absent settings are the defaults, which pass the same rules as an update's.
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
        RuleFor(s => s.Addressing).NotNull().SetValidator(new AddressingValidator());
        RuleFor(s => s.Backups!).SetValidator(new BackupsValidator()).When(s => s.Backups is not null);
    }

    internal static bool BeAHost(string? host) => host is not null && Uri.CheckHostName(host) != UriHostNameType.Unknown;

    /// <summary>A static plan: the LAN, a block inside it to give out, a gateway on the LAN, DNS servers (IPv4). DHCP needs nothing.</summary>
    private sealed class AddressingValidator : AbstractValidator<AddressingSettings>
    {
        public AddressingValidator()
        {
            RuleLevelCascadeMode = CascadeMode.Stop;
            When(a => a.Mode == AddressingMode.Static, () =>
            {
                RuleFor(a => a.Network).NotEmpty()
                    .Must(n => AddressPlan.TryNetwork(n, out _)).WithMessage(a => NetworkMessage(a.Network, "Network", "192.168.1.0/24"))
                    .Must(n => AddressPlan.TryNetwork(n, out var net) && net.PrefixLength is >= 8 and <= 30 && !AddressPlan.IsReserved(net.BaseAddress))
                    .WithMessage("Network must be a LAN between /8 and /30, not a multicast, link-local or reserved block.");
                RuleFor(a => a.Range).NotEmpty()
                    .Must(r => AddressPlan.TryNetwork(r, out _)).WithMessage(a => NetworkMessage(a.Range, "Range", "192.168.1.64/27"))
                    .Must((a, r) => !AddressPlan.TryNetwork(a.Network, out var net) || (AddressPlan.TryNetwork(r, out var range) && AddressPlan.Inside(net, range)))
                    .WithMessage(a => $"Range must lie inside the network {a.Network}.")
                    .Must((a, _) => AddressPlan.Of(a) is not { } plan || plan.Candidates().Any())
                    .WithMessage("Range leaves no address to give out (the network's own and broadcast address, the gateway and the DNS servers are never given out).");
                RuleFor(a => a.Gateway).NotEmpty()
                    .Must(g => AddressPlan.TryAddress(g, out _)).WithMessage("Gateway must be an IPv4 address such as 192.168.1.1.")
                    .Must((a, g) => !AddressPlan.TryNetwork(a.Network, out var net) || (AddressPlan.TryAddress(g, out var gateway) && AddressPlan.IsHost(net, gateway)))
                    .WithMessage(a => $"Gateway must be an address of the network {a.Network} (not its network or broadcast address).");
                RuleFor(a => a.DnsServers).NotEmpty().WithMessage("Add at least one DNS server (often the gateway).")
                    .Must(d => d.Count <= 3).WithMessage("At most three DNS servers.");
                RuleForEach(a => a.DnsServers).Must(d => AddressPlan.TryAddress(d, out _)).WithMessage("DNS server must be an IPv4 address such as 192.168.1.1.");
            });
        }

        /// <summary>Says what is wrong with a CIDR block, with the network address when only host bits are set.</summary>
        private static string NetworkMessage(string? text, string what, string example)
        {
            var slash = text?.IndexOf('/', StringComparison.Ordinal) ?? -1;
            if (slash > 0 && AddressPlan.TryAddress(text![..slash], out var address)
                && int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix) && prefix is >= 0 and <= 32)
            {
                var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
                var start = AddressPlan.FromUInt(AddressPlan.ToUInt(address) & mask);
                return $"{what} must be written with its first address: {start}/{prefix}.";
            }

            return $"{what} must be an IPv4 block in CIDR notation such as {example}.";
        }
    }

    /// <summary>Daily or weekly (with its day) at HH:MM; a storage id; keep 1-100 backups per guest.</summary>
    private sealed partial class BackupsValidator : AbstractValidator<BackupSettings>
    {
        public BackupsValidator()
        {
            RuleLevelCascadeMode = CascadeMode.Stop;
            RuleFor(b => b.Schedule).NotNull();
            RuleFor(b => b.Schedule.Time).NotEmpty().Must(t => Time().IsMatch(t ?? ""))
                .WithMessage("Time must be HH:MM on a 24-hour clock, e.g. 03:00.").When(b => b.Schedule is not null).OverridePropertyName("Schedule.Time");
            RuleFor(b => b.Schedule.Day).NotNull().WithMessage("A weekly backup needs its day (monday to sunday).")
                .When(b => b.Schedule is { Frequency: BackupFrequency.Weekly }).OverridePropertyName("Schedule.Day");
            RuleFor(b => b.Schedule.Day).Null().WithMessage("A daily backup has no day; leave it out.")
                .When(b => b.Schedule is { Frequency: BackupFrequency.Daily }).OverridePropertyName("Schedule.Day");
            RuleFor(b => b.Storage).NotEmpty().Matches("^[a-zA-Z][a-zA-Z0-9._-]*$").WithMessage("Storage must be a Proxmox storage id such as local.");
            RuleFor(b => b.Retention).NotNull();
            RuleFor(b => b.Retention.KeepLast).InclusiveBetween(1, 100).When(b => b.Retention is not null).OverridePropertyName("Retention.KeepLast");
        }

        [GeneratedRegex("^([01][0-9]|2[0-3]):[0-5][0-9]$")]
        private static partial Regex Time();
    }

    private sealed class CoordinatorValidator : AbstractValidator<CoordinatorSettings>
    {
        public CoordinatorValidator(bool zigbee)
        {
            RuleLevelCascadeMode = CascadeMode.Stop;
            // Null until the dealer knows it (the default): the guest's assignment then names no coordinator.
            RuleFor(c => c.Host).Must(BeAHost).WithMessage("Host must be the coordinator's host name or IP address.").When(c => c.Mode == CoordinatorMode.Network && c.Host is not null);
            RuleFor(c => c.Port).InclusiveBetween(1, 65535).When(c => c.Mode == CoordinatorMode.Network);
            RuleFor(c => c.UsbDevice).NotEmpty().Must(d => d!.StartsWith("/dev/", StringComparison.Ordinal)).WithMessage("USB device must be a path under /dev/, e.g. /dev/serial/by-id/...").When(c => c.Mode == CoordinatorMode.Usb);
            if (zigbee)
            {
                RuleFor(c => c.Adapter).Must(a => Adapters.Contains(a)).WithMessage($"Adapter must be one of: {string.Join(", ", Adapters)}.");
            }
        }
    }
}
