using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Upgrade;

public sealed class UpgradeOptions
{
    public const string Section = "Upgrades";

    /// <summary>Days an upgrade's snapshot is kept after the upgrade ended (rolled back or not); then the sweep deletes it.</summary>
    public double KeepSnapshotDays { get; set; } = 7;

    /// <summary>How often the sweep looks for snapshots past <see cref="KeepSnapshotDays"/>.</summary>
    public double SweepIntervalMinutes { get; set; } = 60;

    /// <summary>How long an LXC guest may take to ask for its upgrade (its timer runs every 2 minutes) and report it done.</summary>
    public double GuestTimeoutSeconds { get; set; } = 1800;

    /// <summary>How long Home Assistant may take to update OS and Core (image downloads, a reboot) and answer again.</summary>
    public double HomeAssistantTimeoutSeconds { get; set; } = 3600;

    /// <summary>How long the upgraded app may take to answer and be wired again before the upgrade is rolled back.</summary>
    public double HealthTimeoutSeconds { get; set; } = 300;

    /// <summary>Between two looks while waiting (Home Assistant, the app's health).</summary>
    public double PollIntervalSeconds { get; set; } = 5;
}

/// <summary>Start-up checks of <see cref="UpgradeOptions"/>: one line per setting out of bounds.</summary>
public sealed class UpgradeOptionsValidator : IValidateOptions<UpgradeOptions>
{
    public ValidateOptionsResult Validate(string? name, UpgradeOptions options)
    {
        var errors = new List<string>();
        if (!(options.KeepSnapshotDays is >= 0 and <= 365))
        {
            errors.Add($"Upgrades:KeepSnapshotDays must be between 0 and 365 days (got {options.KeepSnapshotDays}).");
        }

        Positive(errors, "SweepIntervalMinutes", options.SweepIntervalMinutes, 1440);
        Positive(errors, "GuestTimeoutSeconds", options.GuestTimeoutSeconds, 86400);
        Positive(errors, "HomeAssistantTimeoutSeconds", options.HomeAssistantTimeoutSeconds, 86400);
        Positive(errors, "HealthTimeoutSeconds", options.HealthTimeoutSeconds, 86400);
        Positive(errors, "PollIntervalSeconds", options.PollIntervalSeconds, 300);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Positive(List<string> errors, string key, double value, double max)
    {
        if (!(value > 0 && value <= max))
        {
            errors.Add($"Upgrades:{key} must be more than 0 and at most {max} (got {value}).");
        }
    }
}
