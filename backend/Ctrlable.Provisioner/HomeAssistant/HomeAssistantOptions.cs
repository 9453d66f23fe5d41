namespace Ctrlable.Provisioner.HomeAssistant;

/// <summary>How the orchestrator reaches and waits for the Home Assistant of a ctrlable-pro guest.</summary>
public sealed class HomeAssistantOptions
{
    public const string Section = "HomeAssistant";

    /// <summary>
    /// Ports probed for Home Assistant's HTTP API, in order. HAOS before Core 2026.8 serves 8123 (and its landing page
    /// redirects 80 to it); later ones serve 80 and redirect 8123. The port answering without a redirect is the live one.
    /// </summary>
    public List<int> Ports { get; set; } = [8123, 80];

    /// <summary>How long a started guest may take to answer on one of <see cref="Ports"/> (boot, guest agent, DHCP).</summary>
    public double LocateTimeoutSeconds { get; set; } = 600;

    /// <summary>How long the landing phase ("Preparing Home Assistant") may last: Core is downloaded or started.</summary>
    public double PrepareTimeoutSeconds { get; set; } = 3600;

    /// <summary>How long a restore may take (Supervisor stops Core, writes /config, starts Core again).</summary>
    public double RestoreTimeoutSeconds { get; set; } = 1800;

    /// <summary>How long Home Assistant's wiring waits for the project's Z-Wave JS and Frigate guests to finish their first boot.</summary>
    public double WiringWaitSeconds { get; set; } = 900;

    /// <summary>Pause between polls while Home Assistant is not ready (the frontend polls every 5 s).</summary>
    public double PollIntervalSeconds { get; set; } = 5;

    /// <summary>Timeout of one HTTP request or WebSocket command.</summary>
    public double RequestTimeoutSeconds { get; set; } = 30;

    /// <summary>Timeout of the backup upload (a base backup can be hundreds of MB).</summary>
    public double UploadTimeoutSeconds { get; set; } = 900;
}
