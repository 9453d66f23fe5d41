using System.Globalization;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Releases;

/// <summary>Old releases' templates (SPEC §8a "Removing old releases' templates"): whether and when they are removed without an admin.</summary>
public sealed class ReleasesOptions
{
    public const string Section = "Releases";

    /// <summary>
    /// Days after a release stopped being the active one when its templates are removed automatically, through the same
    /// proven removal as "Remove templates" (0: off, the default; an admin removes them on the Releases page).
    /// </summary>
    public int RemoveTemplatesAfterDays { get; set; }

    /// <summary>Minutes between two looks for releases whose templates are due (one Proxmox read per due release only).</summary>
    public int TemplateRemovalCheckMinutes { get; set; } = 60;

    /// <summary>When a release superseded at <paramref name="supersededAt"/> has its templates removed; null when that is off.</summary>
    public DateTimeOffset? TemplatesDueAt(DateTimeOffset supersededAt) =>
        RemoveTemplatesAfterDays == 0 ? null : supersededAt.AddDays(RemoveTemplatesAfterDays);
}

/// <summary>Start-up checks of <see cref="ReleasesOptions"/>: one line per setting out of bounds.</summary>
public sealed class ReleasesOptionsValidator : IValidateOptions<ReleasesOptions>
{
    public ValidateOptionsResult Validate(string? name, ReleasesOptions options)
    {
        var errors = new List<string>();
        Range(errors, "Releases:RemoveTemplatesAfterDays", options.RemoveTemplatesAfterDays, 0, 3650);
        Range(errors, "Releases:TemplateRemovalCheckMinutes", options.TemplateRemovalCheckMinutes, 1, 10_080);
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
