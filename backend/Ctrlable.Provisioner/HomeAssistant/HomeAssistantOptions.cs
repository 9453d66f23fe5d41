namespace Ctrlable.Provisioner.HomeAssistant;

/// <summary>How the orchestrator reaches and waits for the Home Assistant of a ctrlable-pro guest.</summary>
public sealed class HomeAssistantOptions
{
    public const string Section = "HomeAssistant";

    /// <summary>
    /// Ports probed for Home Assistant's HTTP API, in order. HAOS before Core 2026.8 serves 8123 (and its landing page
    /// redirects 80 to it); later ones serve 80 and redirect 8123. The port answering without a redirect is the live one.
    /// </summary>
    /// <remarks>Empty in the options object: the configuration binder appends to a pre-filled list, so the default lives in <see cref="ProbePorts"/>.</remarks>
    public List<int> Ports { get; set; } = [];

    /// <summary><see cref="Ports"/>, or 8123 then 80 when none are configured.</summary>
    public IReadOnlyList<int> ProbePorts => Ports.Count > 0 ? Ports : [8123, 80];

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

    /// <summary>
    /// The largest release base backup an admin may store (PUT /api/releases/{release}/base-backup, --import-base-backup), in
    /// MiB. A base is a fresh Home Assistant with an add-on or two: tens of MiB; the limit keeps an upload from filling the
    /// data directory (which holds it twice while it is checked).
    /// </summary>
    public long BaseBackupMaxMegabytes { get; set; } = 1024;

    /// <summary><see cref="BaseBackupMaxMegabytes"/> in bytes.</summary>
    public long BaseBackupMaxBytes => BaseBackupMaxMegabytes * 1024 * 1024;
}

/// <summary>Checks <see cref="HomeAssistantOptions"/> at start: one line per problem.</summary>
public sealed class HomeAssistantOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<HomeAssistantOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, HomeAssistantOptions options)
    {
        var errors = new List<string>();
        if (options.Ports.Any(p => p is < 1 or > 65535))
        {
            errors.Add($"HomeAssistant:Ports must list the TCP ports Home Assistant may answer on, e.g. [8123, 80] (got [{string.Join(", ", options.Ports)}]).");
        }

        var durations = new Dictionary<string, double>
        {
            [nameof(options.LocateTimeoutSeconds)] = options.LocateTimeoutSeconds,
            [nameof(options.PrepareTimeoutSeconds)] = options.PrepareTimeoutSeconds,
            [nameof(options.RestoreTimeoutSeconds)] = options.RestoreTimeoutSeconds,
            [nameof(options.WiringWaitSeconds)] = options.WiringWaitSeconds,
            [nameof(options.PollIntervalSeconds)] = options.PollIntervalSeconds,
            [nameof(options.RequestTimeoutSeconds)] = options.RequestTimeoutSeconds,
            [nameof(options.UploadTimeoutSeconds)] = options.UploadTimeoutSeconds,
        };
        errors.AddRange(durations.Where(d => !(d.Value > 0)).Select(d => $"HomeAssistant:{d.Key} must be more than 0 seconds (got {d.Value})."));
        if (options.BaseBackupMaxMegabytes is < 1 or > 1024 * 1024)
        {
            errors.Add($"HomeAssistant:BaseBackupMaxMegabytes must be between 1 and 1048576 MiB (got {options.BaseBackupMaxMegabytes}).");
        }

        return errors.Count == 0 ? Microsoft.Extensions.Options.ValidateOptionsResult.Success : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(errors);
    }
}
