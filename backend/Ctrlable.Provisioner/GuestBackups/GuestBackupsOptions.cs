using System.Globalization;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.GuestBackups;

/// <summary>Per-project guest backups (SPEC §8h): how often the scheduler looks, how long a vzdump may take, when one is missing.</summary>
public sealed class GuestBackupsOptions
{
    public const string Section = "GuestBackups";

    /// <summary>Seconds between two looks for due backups and missing ones (one storage listing per project with backups).</summary>
    public int CheckIntervalSeconds { get; set; } = 60;

    /// <summary>How long one vzdump (or restore) task may run before the run is recorded as failed (the task itself is left alone).</summary>
    public int TaskTimeoutMinutes { get; set; } = 360;

    /// <summary>How long after a slot a guest without a backup from that slot on counts as "backup missing".</summary>
    public int MissingGraceMinutes { get; set; } = 180;
}

/// <summary>Start-up checks of <see cref="GuestBackupsOptions"/>: one line per setting out of bounds.</summary>
public sealed class GuestBackupsOptionsValidator : IValidateOptions<GuestBackupsOptions>
{
    public ValidateOptionsResult Validate(string? name, GuestBackupsOptions options)
    {
        var errors = new List<string>();
        Range(errors, "GuestBackups:CheckIntervalSeconds", options.CheckIntervalSeconds, 1, 3600);
        Range(errors, "GuestBackups:TaskTimeoutMinutes", options.TaskTimeoutMinutes, 1, 1440);
        Range(errors, "GuestBackups:MissingGraceMinutes", options.MissingGraceMinutes, 1, 10_080);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Range(List<string> errors, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{key} must be between {min} and {max} (got {value.ToString(CultureInfo.InvariantCulture)}).");
        }
    }
}
