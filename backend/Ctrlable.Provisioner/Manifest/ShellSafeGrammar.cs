using System.Text.RegularExpressions;

namespace Ctrlable.Provisioner.Manifest;

/// <summary>
/// The one grammar for every manifest value that reaches a shell or a command line on the Proxmox host. The build plan
/// carries these values to <c>host/ctrlable-build</c>, whose <c>parse_plan</c> checks each with
/// <c>check_field &lt;name&gt; "$x" '&lt;PlanPattern&gt;'</c> (bash ERE, whole value) before using it; the validator holds the
/// manifest to the same patterns so a value the host would refuse is rejected at its file:line:column instead.
/// SPEC §4 lists the same table; a test keeps the wrapper, SPEC and this class in step.
/// </summary>
public static class ShellSafeGrammar
{
    public static ShellSafeField Name { get; } = new("name", "templates.<name>", "[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", false,
        "var_hostname, pct/qm names, progress lines");

    public static ShellSafeField Kind { get; } = new("kind", "templates.<name>.kind", "(lxc|vm)", false, "chooses pct or qm");

    public static ShellSafeField Builder { get; } = new("builder", "templates.<name>.builder", "(ct|vm)/[A-Za-z0-9_][A-Za-z0-9_.-]*\\.sh", false,
        "the script path run by bash (and no '..' in it)", forbidDotDot: true);

    public static ShellSafeField Vmid { get; } = new("vmid", "templates.<name>.vmid", "[1-9][0-9]{2,8}", false, "var_ctid, pct/qm arguments");

    public static ShellSafeField Cpu { get; } = new("cpu", "templates.<name>.resources.cpu", "[0-9]{1,2}", false, "var_cpu, qm --cores");

    public static ShellSafeField Ram { get; } = new("ram", "templates.<name>.resources.ram", "[0-9]{3,6}", false, "var_ram, qm --memory");

    public static ShellSafeField Disk { get; } = new("disk", "templates.<name>.resources.disk", "[0-9]{1,4}", false, "var_disk, qm resize");

    public static ShellSafeField Os { get; } = new("os", "templates.<name>.os.distro", "[a-z]+", false, "var_os");

    public static ShellSafeField Version { get; } = new("version", "templates.<name>.os.version", "[0-9]{1,4}(\\.[0-9]{1,4})?", false, "var_version");

    public static ShellSafeField Unprivileged { get; } = new("unprivileged", "templates.<name>.unprivileged", "[01]", false, "var_unprivileged");

    public static ShellSafeField AppVersion { get; } = new("app_version", "templates.<name>.app_version", "[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}", true,
        "var_appversion, the post-build script's arguments, the template's description");

    public static ShellSafeField Portainer { get; } = new("portainer", "templates.<name>.portainer", "[01]", false, "the install script's Portainer answer");

    public static ShellSafeField HaosVersion { get; } = new("haos_version", "templates.<name>.haos_version", "[0-9]+\\.[0-9]+(\\.[0-9]+)?", true,
        "the image URL and file names");

    public static ShellSafeField HaosSha256 { get; } = new("haos_sha256", "templates.<name>.haos_sha256", "[0-9a-f]{64}", true, "sha256sum -c");

    public static ShellSafeField Rebrand { get; } = new("rebrand", "templates.<name>.rebrand", "[01]", false, "the post-build script's arguments");

    public static ShellSafeField BaseBackup { get; } = new("base_backup", "templates.<name>.base_backup", "[A-Za-z0-9][A-Za-z0-9._-]{0,127}", true,
        "a file name under the release");

    public static ShellSafeField Ref { get; } = new("ref", "community_scripts_ref", "([0-9]{4}-[0-9]{2}-[0-9]{2}|v[0-9]+\\.[0-9]+(\\.[0-9]+)?)", false,
        "git fetch refs/tags/<ref>, progress lines");

    public static ShellSafeField Commit { get; } = new("commit", "community_scripts_commit", "[0-9a-f]{40}", false,
        "compared with the tag's commit, the post-build script's arguments, the template's description");

    /// <summary>Every field, in the order of the wrapper's checks.</summary>
    public static IReadOnlyList<ShellSafeField> All { get; } =
        [Name, Kind, Builder, Vmid, Cpu, Ram, Disk, Os, Version, Unprivileged, AppVersion, Portainer, HaosVersion, HaosSha256, Rebrand, BaseBackup, Ref, Commit];
}

/// <summary>
/// One value's grammar. <see cref="Pattern"/> is the manifest value's grammar; <see cref="PlanPattern"/> is what the wrapper
/// checks in the plan, where "-" stands for an absent optional value.
/// </summary>
public sealed class ShellSafeField
{
    // The patterns use only what bash ERE and .NET agree on; \A and \z because .NET's $ also matches before a final newline.
    private readonly Regex _value;

    internal ShellSafeField(string name, string manifestKey, string pattern, bool absentAsDash, string usedFor, bool forbidDotDot = false)
    {
        ForbidsDotDot = forbidDotDot;
        Name = name;
        ManifestKey = manifestKey;
        Pattern = pattern;
        AbsentAsDash = absentAsDash;
        UsedFor = usedFor;
        _value = new Regex($"\\A(?:{pattern})\\z", RegexOptions.CultureInvariant);
    }

    /// <summary>The field's name in the build plan and in the wrapper's <c>check_field</c>.</summary>
    public string Name { get; }

    /// <summary>Where the value comes from in the manifest.</summary>
    public string ManifestKey { get; }

    public string Pattern { get; }

    /// <summary>The field is optional: the plan writes "-" when the manifest has no value.</summary>
    public bool AbsentAsDash { get; }

    /// <summary>A path inside the upstream tree: besides the pattern, ".." may not occur (the wrapper checks that too).</summary>
    public bool ForbidsDotDot { get; }

    /// <summary>Where the host puts the value (for SPEC's table).</summary>
    public string UsedFor { get; }

    /// <summary>The whole-value bash ERE the wrapper checks the plan field with.</summary>
    public string PlanPattern => AbsentAsDash ? $"^(-|{Pattern})$" : $"^{Pattern}$";

    public bool IsMatch(string value) =>
        _value.IsMatch(value) && !(ForbidsDotDot && value.Contains("..", StringComparison.Ordinal));

    /// <summary>The value as the plan writes it ("-" when absent); throws when it would not pass the wrapper's check.</summary>
    public string ForPlan(string? value)
    {
        if (value is null && AbsentAsDash)
        {
            return "-";
        }

        // The validator has already held the manifest to this grammar, so this only trips on a bug.
        return value is not null && IsMatch(value)
            ? value
            : throw new InvalidOperationException($"The build plan's {Name} value does not match {PlanPattern}; the manifest validator should have refused it.");
    }
}
