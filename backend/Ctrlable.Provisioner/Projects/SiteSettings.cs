using System.ComponentModel;
using System.Text.Json;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Projects;

/// <summary>
/// What a customer site's guests need to be wired together, kept per project as JSON (projects.settings_json).
/// Secrets (an external MQTT password) are not kept here but in the secret store.
/// </summary>
public sealed record SiteSettings
{
    /// <summary>The settings as stored in <c>projects.settings_json</c>; the defaults for a JSON <c>null</c>.</summary>
    public static SiteSettings FromJson(string json) => JsonSerializer.Deserialize<SiteSettings>(json, ProjectJson.Options) ?? new SiteSettings();

    /// <summary>The settings of project <paramref name="projectId"/>; the defaults when the project no longer exists.</summary>
    public static async Task<SiteSettings> OfProjectAsync(InstanceRepository instances, long projectId, CancellationToken ct) =>
        await instances.GetProjectAsync(projectId, ct) is { } project ? FromJson(project.SettingsJson) : new SiteSettings();

    /// <summary>Zigbee coordinator: a network coordinator (Ethernet/PoE, the default) or a USB stick (needs a manual binding).</summary>
    public CoordinatorSettings Zigbee { get; init; } = new();

    /// <summary>Z-Wave controller: behind a ser2net bridge (the default) or on USB.</summary>
    public CoordinatorSettings Zwave { get; init; } = new() { Port = 3333 };

    /// <summary>MQTT broker; null = the Mosquitto of the project's Home Assistant (ctrlable-pro) with per-site credentials.</summary>
    public MqttSettings? Mqtt { get; init; }

    public IReadOnlyList<CameraSettings> Cameras { get; init; } = [];

    public NetworkSettings Network { get; init; } = new();

    /// <summary>How the guests get their addresses, and which name or address the wiring uses to reach them.</summary>
    public AddressingSettings Addressing { get; init; } = new();

    /// <summary>Proxmox node for new guests; null = the configured default.</summary>
    public string? Node { get; init; }

    /// <summary>Storage for new guests; null = the configured default.</summary>
    public string? Storage { get; init; }

    /// <summary>Backups of the project's guests through Proxmox vzdump; null = none (SPEC §8h).</summary>
    public BackupSettings? Backups { get; init; }
}

public enum BackupFrequency { Daily, Weekly }

/// <summary>When the project's guests are backed up: daily or weekly on a day, at a time of the orchestrator's time zone.</summary>
public sealed record BackupSchedule
{
    public BackupFrequency Frequency { get; init; } = BackupFrequency.Daily;

    /// <summary>Weekly: the day (monday … sunday); null for daily.</summary>
    public DayOfWeek? Day { get; init; }

    /// <summary>HH:MM, 24-hour clock, in the orchestrator's time zone (its container's, which install.sh sets to the host's).</summary>
    [Description("Time of day, HH:MM on a 24-hour clock, in the orchestrator's time zone (the Proxmox host's when installed with install.sh).")]
    public string Time { get; init; } = "03:00";
}

/// <summary>How many backups of each guest the orchestrator keeps (its own only: archives carrying the project's marker).</summary>
public sealed record BackupRetention
{
    [Description("Backups of each guest to keep (1-100): after a successful backup the oldest of the orchestrator's own beyond this number are removed.")]
    public int KeepLast { get; init; } = 7;
}

/// <summary>Guest backups: the schedule, a Proxmox storage whose content includes backup, and how many to keep.</summary>
public sealed record BackupSettings
{
    public BackupSchedule Schedule { get; init; } = new();

    /// <summary>A Proxmox storage id whose content includes <c>backup</c> (checked with Proxmox when saved).</summary>
    [Description("A Proxmox storage whose content includes 'backup' (e.g. local); checked against the node's storages when saved.")]
    public required string Storage { get; init; }

    public BackupRetention Retention { get; init; } = new();
}

public enum CoordinatorMode { Network, Usb }

public sealed record CoordinatorSettings
{
    public CoordinatorMode Mode { get; init; } = CoordinatorMode.Network;

    /// <summary>Network mode: host name or address of the coordinator / ser2net bridge.</summary>
    public string? Host { get; init; }

    /// <summary>Network mode: TCP port (Zigbee network coordinators usually 6638, ser2net commonly 3333).</summary>
    public int Port { get; init; } = 6638;

    /// <summary>Zigbee2MQTT adapter type: zstack, ember, deconz, zigate or zboss.</summary>
    public string Adapter { get; init; } = "zstack";

    /// <summary>USB mode: the device path on the Proxmox host, e.g. /dev/serial/by-id/usb-...</summary>
    public string? UsbDevice { get; init; }
}

public sealed record MqttSettings
{
    public required string Host { get; init; }
    public int Port { get; init; } = 1883;
    public string? Username { get; init; }
    public bool Tls { get; init; }
}

public sealed record CameraSettings
{
    public required string Name { get; init; }

    /// <summary>
    /// RTSP stream URL of the camera. A password in it (rtsp://user:password@…) is stored encrypted and shown as
    /// rtsp://user:***@…; sending *** back keeps the stored password.
    /// </summary>
    [Description("Stream URL (rtsp://, rtsps://, http://, https://). A password in it is stored encrypted and shown as ***; send *** back to keep it, or a new one to replace it.")]
    public required string StreamUrl { get; init; }
}

public sealed record NetworkSettings
{
    /// <summary>Bridge for guest NICs; null = the configured default.</summary>
    public string? Bridge { get; init; }

    /// <summary>VLAN tag (1–4094) for guest NICs; null = untagged.</summary>
    public int? Vlan { get; init; }
}

public enum AddressingMode { Dhcp, Static }

/// <summary>
/// DHCP (the default: the LAN's DHCP server gives each guest its address), or a static plan: the orchestrator gives each
/// instance an address of <see cref="Range"/> that no other instance and no guest Proxmox shows has, and writes it into
/// the guest (LXC <c>net0</c>; Home Assistant's network settings). IPv4 only.
/// </summary>
public sealed record AddressingSettings
{
    public AddressingMode Mode { get; init; } = AddressingMode.Dhcp;

    /// <summary>Static: the LAN in CIDR notation (its prefix length is the guests' netmask), e.g. 192.168.1.0/24.</summary>
    [Description("Static plan: the LAN in CIDR notation, e.g. 192.168.1.0/24; its prefix length becomes the guests' netmask.")]
    public string? Network { get; init; }

    /// <summary>Static: the block (CIDR, inside <see cref="Network"/>) the orchestrator may give out, e.g. 192.168.1.64/27.</summary>
    [Description("Static plan: the block the orchestrator may give out, in CIDR notation inside the network (e.g. 192.168.1.64/27). Keep it outside the DHCP server's pool.")]
    public string? Range { get; init; }

    /// <summary>Static: the default gateway, inside <see cref="Network"/>.</summary>
    public string? Gateway { get; init; }

    /// <summary>Static: one to three DNS servers the guests use.</summary>
    public IReadOnlyList<string> DnsServers { get; init; } = [];

    /// <summary>
    /// The site's DNS resolves the guests' host names (e.g. the router registers DHCP names, or the dealer added them):
    /// then the wiring uses host names; otherwise addresses only.
    /// </summary>
    [Description("Whether the site's DNS resolves the guests' host names. False (default): assignments and Home Assistant's integrations use addresses only.")]
    public bool DnsServesHostnames { get; init; }
}
