using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Tests.Infrastructure;
using static Ctrlable.Provisioner.Tests.Manifest.ManifestYaml;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>
/// Every manifest value that reaches a shell or command line on the host is held to one grammar: the wrapper's
/// check_field patterns, ShellSafeGrammar and SPEC §4's table say the same, and the validator refuses the rest at its line.
/// </summary>
public sealed partial class ShellSafeGrammarTests
{
    /// <summary>The patterns agreed with the host side (issue #15), bash ERE on the whole plan field.</summary>
    private static readonly Dictionary<string, string> Agreed = new(StringComparer.Ordinal)
    {
        ["name"] = "^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$",
        ["kind"] = "^(lxc|vm)$",
        ["builder"] = @"^(ct|vm)/[A-Za-z0-9_][A-Za-z0-9_.-]*\.sh$",
        ["vmid"] = "^[1-9][0-9]{2,8}$",
        ["cpu"] = "^[0-9]{1,2}$",
        ["ram"] = "^[0-9]{3,6}$",
        ["disk"] = "^[0-9]{1,4}$",
        ["os"] = "^[a-z]+$",
        ["version"] = @"^[0-9]{1,4}(\.[0-9]{1,4})?$",
        ["unprivileged"] = "^[01]$",
        ["app_version"] = "^(-|[A-Za-z0-9][A-Za-z0-9._+~-]{0,63})$",
        ["portainer"] = "^[01]$",
        ["haos_version"] = @"^(-|[0-9]+\.[0-9]+(\.[0-9]+)?)$",
        ["haos_sha256"] = "^(-|[0-9a-f]{64})$",
        ["rebrand"] = "^[01]$",
        ["base_backup"] = "^(-|[A-Za-z0-9][A-Za-z0-9._-]{0,127})$",
        ["ref"] = @"^([0-9]{4}-[0-9]{2}-[0-9]{2}|v[0-9]+\.[0-9]+(\.[0-9]+)?)$",
        ["commit"] = "^[0-9a-f]{40}$",
    };

    /// <summary>Plan fields the orchestrator writes from its own settings, not from the manifest.</summary>
    private static readonly string[] NotFromTheManifest = ["build", "force", "storage", "bridge", "pool"];

    [Fact]
    public void The_table_is_the_agreed_grammar()
    {
        ShellSafeGrammar.All.ToDictionary(f => f.Name, f => f.PlanPattern).Should().Equal(Agreed);
    }

    [Fact]
    public void The_host_wrapper_checks_every_field_with_the_tables_pattern()
    {
        var checks = CheckField().Matches(File.ReadAllText(Path.Combine(RepoPaths.Root, "host", "ctrlable-build")))
            .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["pattern"].Value);

        checks.Keys.Should().BeEquivalentTo(ShellSafeGrammar.All.Select(f => f.Name).Concat(NotFromTheManifest),
            "every plan field the wrapper checks is in the grammar table, or is one the orchestrator writes itself");
        foreach (var field in ShellSafeGrammar.All)
        {
            checks[field.Name].Should().Be(field.PlanPattern, $"check_field {field.Name} in host/ctrlable-build");
        }
    }

    [Fact]
    public void Specs_grammar_table_lists_the_tables_patterns()
    {
        var spec = File.ReadAllLines(Path.Combine(RepoPaths.Root, "SPEC.md"));
        var rows = spec.Select(line => SpecRow().Match(line)).Where(m => m.Success)
            .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["pattern"].Value.Replace(@"\|", "|", StringComparison.Ordinal));

        rows.Should().Equal(ShellSafeGrammar.All.ToDictionary(f => f.Name, f => f.PlanPattern));
    }

    [Theory]
    [MemberData(nameof(Injections))]
    public void A_value_the_host_would_refuse_is_rejected_at_its_line_and_column(string field, string payload)
    {
        var (line, prefix, value, suffix, path) = Place(field, payload);
        var text = prefix + YamlQuoted(value) + suffix;

        var result = Parse(WithLine(line, text));

        var error = result.ShouldHaveErrorAt(line, prefix.Length + 1, path);
        error.Message.Should().NotContain("\n", "the message is one readable line");
        error.ToString().Should().StartWith($"{FileName}:{line}:{prefix.Length + 1}: {path}: ");
    }

    public static TheoryData<string, string> Injections()
    {
        string[] payloads = ["`id`", "$(id)", ";id", " id", "\nid", "'id'", "\"id\"", "|id", "&id", "\\id"];
        var data = new TheoryData<string, string>();
        foreach (var field in new[] { "app_version", "os.version", "os.distro", "haos_version", "base_backup", "builder" })
        {
            foreach (var payload in payloads)
            {
                data.Add(field, payload);
            }
        }

        data.Add("app_version", new string('1', 65));
        data.Add("base_backup", new string('b', 125));
        data.Add("os.version", "12345");
        return data;
    }

    [Theory]
    [InlineData("app_version", "")]
    [InlineData("os.version", "")]
    [InlineData("os.distro", "")]
    [InlineData("base_backup", "")]
    public void The_accepted_values_still_pass(string field, string payload)
    {
        var (line, prefix, value, suffix, _) = Place(field, payload);

        var result = Parse(WithLine(line, prefix + YamlQuoted(value) + suffix));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
    }

    [Theory]
    [InlineData("9.x")]
    [InlineData("0.14.x")]
    [InlineData("1.2.3+deb12~1")]
    [InlineData("v2.0.0-rc_1")]
    [InlineData("1111111111111111111111111111111111111111111111111111111111111111")] // 64 characters
    public void App_versions_within_the_grammar_are_accepted(string version)
    {
        // Unpinned, so only the grammar applies (a pinned release also holds them to the builder: AppVersionTests).
        var result = Parse(With((3, "# not pinned"), (22, $"    app_version: \"{version}\"")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Templates[1].AppVersion.Should().Be(version);
    }

    [Fact]
    public void A_base_backup_name_of_128_characters_is_accepted()
    {
        var result = Parse(WithLine(16, $"    base_backup: \"{new string('b', 128)}\""));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
    }

    [Fact]
    public void A_bare_commit_sha_as_ref_is_refused_with_the_way_to_pin_a_tag()
    {
        const string Text = "community_scripts_ref: dc355d07bff60c8e7bd3263a9c663c391c91ad89";

        var result = Parse(WithLine(2, Text));

        result.ShouldHaveErrorAt(2, 24, "community_scripts_ref", "bare commit SHA", "no longer a buildable ref",
            "set community_scripts_ref to the upstream tag", "community_scripts_commit to the SHA");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void A_tag_without_its_commit_is_valid_with_a_warning_at_the_refs_line()
    {
        // The handoff spec's form: valid, but the build refuses it until pin-release.sh recorded the commit (WrapperPlanTests).
        var result = Parse(WithLine(3, "# community_scripts_commit removed"));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.CommunityScriptsCommit.Should().BeNull();
        var warning = result.Warnings.Should().ContainSingle(w => w.Path == "community_scripts_commit", "the base's privileged containers warn too").Subject;
        warning.Should().BeEquivalentTo(new { File = FileName, Line = 2, Column = 24 });
        warning.Message.Should().Be("tag '2026-05-30' is not pinned to a commit: run scripts/pin-release.sh releases/2026.06.yaml "
            + "(it records the commit the tag points to as community_scripts_commit); a build is refused until it is");
    }

    [Fact]
    public void The_build_plan_refuses_to_write_a_value_outside_the_grammar()
    {
        var manifest = Parse(Valid).Manifest!;
        var broken = manifest with { Templates = [manifest.Templates[1] with { AppVersion = "9.x;id" }] };

        var render = () => BuildPlan.Render(1, broken, force: false, "local-lvm", "vmbr0", "ctrlable-templates");

        render.Should().Throw<InvalidOperationException>().WithMessage("*app_version*");
        BuildPlan.Render(1, manifest with { Templates = [manifest.Templates[1]] }, force: false, "local-lvm", "vmbr0", "ctrlable-templates")
            .Should().Contain("\t9.x\t");
    }

    /// <summary>Where a field lives in the base manifest, and a valid value with the payload appended.</summary>
    private static (int Line, string Prefix, string Value, string Suffix, string Path) Place(string field, string payload) => field switch
    {
        "app_version" => (22, "    app_version: ", "9.x" + payload, "", "templates.zwavejs.app_version"),
        "os.version" => (23, "    os: { distro: debian, version: ", "12" + payload, " }", "templates.zwavejs.os.version"),
        "os.distro" => (23, "    os: { distro: ", "debian" + payload, ", version: \"12\" }", "templates.zwavejs.os.distro"),
        "haos_version" => (14, "    haos_version: ", "15.1" + payload, "", "templates.ctrlable-pro.haos_version"),
        "base_backup" => (16, "    base_backup: ", "ctrlable-base" + payload + ".tar", "", "templates.ctrlable-pro.base_backup"),
        "builder" => (20, "    builder: ", "ct/zwave-js-ui" + payload + ".sh", "", "templates.zwavejs.builder"),
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };

    private static string YamlQuoted(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";

    // check_field NAME "..." 'REGEX' as the wrapper writes it (the regex in single quotes, so no quoting inside).
    [GeneratedRegex(@"^\s*check_field (?<name>[a-z_0-9]+) ""[^""]*"" '(?<pattern>[^']*)'", RegexOptions.Multiline)]
    private static partial Regex CheckField();

    // | `name` | `templates.<name>` | `^...$` | used for |  — the SPEC §4 grammar table ('|' in a pattern written as '\|').
    [GeneratedRegex(@"^\| `(?<name>[a-z_0-9]+)` \| `[^`]+` \| `(?<pattern>[^`]+)` \|")]
    private static partial Regex SpecRow();
}
