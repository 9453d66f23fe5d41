using System.Globalization;
using System.Text.RegularExpressions;

namespace Ctrlable.Provisioner.Manifest;

/// <summary>The limits and formats a release manifest is held to, in one place.</summary>
internal static partial class ManifestRules
{
    // Proxmox accepts guest IDs 100..999999999; below 100 is reserved.
    public const int MinVmid = 100;
    public const int MaxVmid = 999_999_999;

    // Sanity bounds, not capacity planning: they catch a unit mix-up (ram: 4 meaning GiB, disk in MiB)
    // before a build spends minutes creating a guest Proxmox or the host cannot run.
    public const int MinCpu = 1;
    public const int MaxCpu = 64;
    public const int MinRamMiB = 256;
    public const int MaxRamMiB = 262_144; // 256 GiB
    public const int MinDiskGb = 2;
    public const int MaxDiskGb = 4_096; // 4 TB
    // The Home Assistant OS image (haos_ova-*.qcow2) is a 32 GB disk: the build grows it to the manifest's size, never shrinks it.
    public const int MinHaosDiskGb = 32;

    // The oldest Proxmox VE the product supports at all.
    public const int MinProxmoxMajor = 8;
    public const int MinProxmoxMinor = 2;

    // Hostnames derive from template names, so a name must be a DNS label; 40 leaves room for a site suffix within 63.
    public const int MaxTemplateNameLength = 40;

    // The builder that needs haos_version: the HAOS image version is the only thing that pins that VM.
    public const string HaosBuilder = "vm/haos-vm.sh";

    // Template names the release decisions refer to.
    public const string FreePbxTemplate = "freepbx";
    public const string FrigateTemplate = "frigate";
    public const string DockerPortainerTemplate = "docker-portainer";

    private static readonly string[] WellKnownBranches = ["main", "master", "HEAD", "develop"];

    public static bool IsReleaseName(string value) => ReleaseName().IsMatch(value);

    public static bool IsCommitSha(string value) => CommitSha().IsMatch(value);

    public static bool IsTemplateName(string value) =>
        value.Length <= MaxTemplateNameLength && DnsLabel().IsMatch(value);

    /// <summary>Why a community_scripts_ref is not a pin, or null when it is a tag-like name or a commit SHA.</summary>
    public static string? RefProblem(string value)
    {
        const string Advice = "a branch moves; pin a tag such as 2026-05-30 or a 40-hex commit SHA";
        if (WellKnownBranches.Contains(value, StringComparer.OrdinalIgnoreCase))
        {
            return $"'{value}' is a branch: {Advice}";
        }

        if (IsCommitSha(value) || VersionTag().IsMatch(value) || IsDateTag(value))
        {
            return null;
        }

        return $"'{value}' is neither a tag (YYYY-MM-DD or vX.Y.Z) nor a 40-hex commit SHA; {Advice}";
    }

    /// <summary>Why a proxmox_min_version is unusable, or null when it is major.minor at or above the floor.</summary>
    public static string? ProxmoxVersionProblem(string value)
    {
        var match = MajorMinor().Match(value);
        if (!match.Success)
        {
            return $"proxmox_min_version '{value}' is not a major.minor version such as 8.2";
        }

        var major = int.Parse(match.Groups["major"].Value, CultureInfo.InvariantCulture);
        var minor = int.Parse(match.Groups["minor"].Value, CultureInfo.InvariantCulture);
        var belowFloor = major < MinProxmoxMajor || (major == MinProxmoxMajor && minor < MinProxmoxMinor);
        return belowFloor
            ? $"proxmox_min_version {value} is below {MinProxmoxMajor}.{MinProxmoxMinor}, the oldest Proxmox VE the product supports"
            : null;
    }

    /// <summary>Why a builder path does not fit the template kind, or null when it does.</summary>
    public static string? BuilderProblem(string builder, TemplateKind? kind)
    {
        if (builder.StartsWith('/') || builder.Contains("..", StringComparison.Ordinal))
        {
            return $"builder '{builder}' must be a path inside the community-scripts tree (no leading '/', no '..')";
        }

        var match = BuilderPath().Match(builder);
        if (!match.Success)
        {
            return $"builder '{builder}' must look like ct/<name>.sh (lxc) or vm/<name>.sh (vm)";
        }

        var expectedFolder = kind switch
        {
            TemplateKind.Lxc => "ct",
            TemplateKind.Vm => "vm",
            _ => null, // kind itself is broken and already reported
        };
        return kind is { } k && match.Groups["folder"].Value != expectedFolder
            ? $"builder '{builder}' does not match kind {YamlName(k)}: kind {YamlName(k)} is built by {expectedFolder}/<name>.sh"
            : null;
    }

    /// <summary>How an enum value is spelled in YAML: FrigatePlacement.Separate is "separate".</summary>
    public static string YamlName<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static bool IsDateTag(string value) =>
        DateTag().IsMatch(value)
        && DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _);

    [GeneratedRegex(@"^[0-9]{4}\.(0[1-9]|1[0-2])(\.[1-9][0-9]{0,2})?\z")]
    private static partial Regex ReleaseName();

    [GeneratedRegex(@"^[0-9a-f]{40}\z")]
    private static partial Regex CommitSha();

    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}\z")]
    private static partial Regex DateTag();

    [GeneratedRegex(@"^v[0-9]+\.[0-9]+(\.[0-9]+)?\z")]
    private static partial Regex VersionTag();

    [GeneratedRegex(@"^(?<major>[0-9]{1,4})\.(?<minor>[0-9]{1,4})\z")]
    private static partial Regex MajorMinor();

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9-]*[a-z0-9])?\z")]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^(?<folder>ct|vm)/[A-Za-z0-9_][A-Za-z0-9_.-]*\.sh\z")]
    private static partial Regex BuilderPath();
}
