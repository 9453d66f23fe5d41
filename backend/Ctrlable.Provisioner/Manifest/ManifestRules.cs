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

    // A Home Assistant OS VM without resources: 2 vCPU and 32 GB are Home Assistant's minimum for a VM (its "Alternative"
    // install docs), 4096 MiB is the builder's own default (vm/haos-vm.sh at the pinned commit; HA's floor is 2 GB). SPEC §4.
    public const int HaosDefaultCpu = 2;
    public const int HaosDefaultRamMiB = 4096;
    public const int HaosDefaultDiskGb = 32;

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

    // Values echoed in messages: long or multi-line input must not turn an error into a wall of text.
    private const int MaxQuotedLength = 70;

    public static bool IsReleaseName(string value) => ReleaseName().IsMatch(value);

    public static bool IsCommitSha(string value) => ShellSafeGrammar.Commit.IsMatch(value);

    public static bool IsTemplateName(string value) => ShellSafeGrammar.Name.IsMatch(value);

    /// <summary>Why a community_scripts_ref is not a buildable pin, or null when it is a tag (YYYY-MM-DD or vX.Y[.Z]).</summary>
    public static string? RefProblem(string value)
    {
        const string Advice = "pin an upstream tag such as 2026-05-30 and record the commit it points to in community_scripts_commit";
        if (WellKnownBranches.Contains(value, StringComparer.OrdinalIgnoreCase))
        {
            return $"'{value}' is a branch, and a branch moves: {Advice}";
        }

        if (IsCommitSha(value))
        {
            return $"'{value}' is a bare commit SHA, which is no longer a buildable ref (the host fetches the tag and proves its commit): "
                + "set community_scripts_ref to the upstream tag that points to this commit (e.g. 2026-05-30) and community_scripts_commit to the SHA";
        }

        if (ShellSafeGrammar.Ref.IsMatch(value) && (!DateTag().IsMatch(value) || IsCalendarDate(value)))
        {
            return null;
        }

        return $"{Quote(value)} is not a tag (YYYY-MM-DD or vX.Y.Z): {Advice}";
    }

    /// <summary>
    /// Why a value that the host passes to a shell or command line breaks its grammar (<see cref="ShellSafeGrammar"/>), or null.
    /// <paramref name="key"/> is the manifest key, <paramref name="shape"/> what the value may look like.
    /// </summary>
    public static string? GrammarProblem(ShellSafeField field, string? value, string key, string shape) =>
        value is null || field.IsMatch(value)
            ? null
            : $"{key} {Quote(value)} must be {shape}: the host passes it to a shell, so it refuses anything else";

    /// <summary>A value for a message: quoted, control characters escaped, cut when long.</summary>
    public static string Quote(string value)
    {
        var escaped = new System.Text.StringBuilder();
        foreach (var c in value)
        {
            escaped.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }

        var text = escaped.ToString();
        return text.Length > MaxQuotedLength
            ? $"'{text[..MaxQuotedLength]}…' ({value.Length} characters)"
            : $"'{text}'";
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
            return $"builder {Quote(builder)} must be a path inside the community-scripts tree (no leading '/', no '..')";
        }

        if (!ShellSafeGrammar.Builder.IsMatch(builder))
        {
            return $"builder {Quote(builder)} must look like ct/<name>.sh (lxc) or vm/<name>.sh (vm), the name of letters, digits, '_', '.' and '-'";
        }

        var expectedFolder = kind switch
        {
            TemplateKind.Lxc => "ct",
            TemplateKind.Vm => "vm",
            _ => null, // kind itself is broken and already reported
        };
        return kind is { } k && builder[..2] != expectedFolder
            ? $"builder '{builder}' does not match kind {YamlName(k)}: kind {YamlName(k)} is built by {expectedFolder}/<name>.sh"
            : null;
    }

    /// <summary>
    /// Why an app_version (already within the grammar) does not fit what <paramref name="builder"/> does at <paramref name="commit"/>,
    /// or null. <paramref name="entry"/> is the builder's line in Manifest/upstream-builders.tsv, null when it has none.
    /// </summary>
    public static string? AppVersionProblem(UpstreamBuilder? entry, string builder, string commit, string version)
    {
        var at = commit[..12];
        switch (entry?.Versioning)
        {
            case null:
                return $"app_version {Quote(version)}: Manifest/upstream-builders.tsv does not say what {builder} does with var_appversion at {at}; "
                    + "read its install script there and record it (SPEC §4), or remove app_version";
            case AppVersioning.None:
                return $"{builder} has no app version: at {at} it installs {entry.Installs} ({entry.Source}); remove app_version";
            case AppVersioning.Pinned when version != entry.Version:
                return $"app_version {Quote(version)} is not what {builder} installs: at {at} it installs {entry.Version} whatever var_appversion says "
                    + $"({entry.Source}: {entry.Installs}); set app_version to \"{entry.Version}\"";
            case AppVersioning.Honoured when version.Length > 1 && version[0] == 'v' && char.IsAsciiDigit(version[1]):
                return $"app_version {Quote(version)}: write the version without the 'v' ({version[1..]}), as tools.func records it; "
                    + $"the build passes {builder} the tag {entry.TagFor(version[1..])}";
            case AppVersioning.Honoured when !ReleaseVersionOrPattern().IsMatch(version):
                return $"app_version {Quote(version)} must be an exact release of {entry.Repo} such as 11.19.0, or a pattern such as 11.x "
                    + "that scripts/pin-release.sh turns into the newest matching release";
            default:
                return null;
        }
    }

    /// <summary>How an enum value is spelled in YAML: FrigatePlacement.Separate is "separate".</summary>
    public static string YamlName<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static bool IsCalendarDate(string value) =>
        DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _);

    [GeneratedRegex(@"^[0-9]{4}\.(0[1-9]|1[0-2])(\.[1-9][0-9]{0,2})?\z")]
    private static partial Regex ReleaseName();

    // 11.19.0 (exact) or 11.x / 11.19.x (a pattern pin-release.sh resolves).
    [GeneratedRegex(@"^([0-9]+(\.[0-9]+){0,3}|[0-9]+(\.[0-9]+){0,2}\.x)\z")]
    private static partial Regex ReleaseVersionOrPattern();

    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}\z")]
    private static partial Regex DateTag();

    [GeneratedRegex(@"^(?<major>[0-9]{1,4})\.(?<minor>[0-9]{1,4})\z")]
    private static partial Regex MajorMinor();
}
