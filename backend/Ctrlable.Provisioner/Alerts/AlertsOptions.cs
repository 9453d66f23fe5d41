using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>Alerts (SPEC §8g): when an incident is raised, and how notifications are delivered.</summary>
public sealed class AlertsOptions
{
    public const string Section = "Alerts";

    /// <summary>The site's name in every notification (default: this machine's host name).</summary>
    public string SiteName { get; set; } = "";

    /// <summary>The orchestrator's address as the dealer opens it (https://…): notifications link to its pages. Empty: no link.</summary>
    public string OrchestratorUrl { get; set; } = "";

    /// <summary>An active guest's app that stays down this long is an incident.</summary>
    public int AppDownMinutes { get; set; } = 10;

    /// <summary>An enrolled site whose reports have not been delivered for this long is an incident.</summary>
    public int PlatformUnreachableHours { get; set; } = 6;

    /// <summary>The orchestrator's TLS certificate expiring within this many days is an incident.</summary>
    public int CertificateExpiryDays { get; set; } = 21;

    /// <summary>At most this many messages per target and hour; the notifications beyond it go out as one summary once the hour allows.</summary>
    public int MaxPerTargetPerHour { get; set; } = 20;

    /// <summary>Delivery attempts per notification before it is given up (the error is kept).</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>The wait after a failed delivery; it doubles with each further failure (with jitter).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait between two attempts.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long one delivery (an HTTP request, an SMTP session) may take.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How often the sender looks at the outbox when nothing wakes it.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often guests, apps, the platform connection and the certificate are looked at.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Start-up checks of <see cref="AlertsOptions"/>: one line per setting out of bounds.</summary>
public sealed class AlertsOptionsValidator : IValidateOptions<AlertsOptions>
{
    public ValidateOptionsResult Validate(string? name, AlertsOptions options)
    {
        var errors = new List<string>();
        Range(errors, "Alerts:AppDownMinutes", options.AppDownMinutes, 1, 10_080);
        Range(errors, "Alerts:PlatformUnreachableHours", options.PlatformUnreachableHours, 1, 720);
        Range(errors, "Alerts:CertificateExpiryDays", options.CertificateExpiryDays, 1, 365);
        Range(errors, "Alerts:MaxPerTargetPerHour", options.MaxPerTargetPerHour, 1, 3600);
        Range(errors, "Alerts:MaxAttempts", options.MaxAttempts, 1, 100);
        Positive(errors, "Alerts:RetryBaseDelay", options.RetryBaseDelay);
        Positive(errors, "Alerts:AttemptTimeout", options.AttemptTimeout);
        Positive(errors, "Alerts:PollInterval", options.PollInterval);
        Positive(errors, "Alerts:CheckInterval", options.CheckInterval);
        if (options.RetryMaxDelay < options.RetryBaseDelay)
        {
            errors.Add($"Alerts:RetryMaxDelay must not be below Alerts:RetryBaseDelay (got {options.RetryMaxDelay}).");
        }

        if (options.OrchestratorUrl.Length > 0 && !(Uri.TryCreate(options.OrchestratorUrl, UriKind.Absolute, out var url) && url.Scheme is "https" or "http"))
        {
            errors.Add($"Alerts:OrchestratorUrl must be the orchestrator's address such as https://192.168.1.20:8443 (got '{options.OrchestratorUrl}').");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Range(List<string> errors, string setting, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{setting} must be between {min} and {max} (got {value}).");
        }
    }

    private static void Positive(List<string> errors, string setting, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{setting} must be a positive duration such as 00:00:30 (got {value}).");
        }
    }
}
