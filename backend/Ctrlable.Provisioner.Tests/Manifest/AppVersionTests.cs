using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Tests.Infrastructure;
using static Ctrlable.Provisioner.Tests.Manifest.ManifestYaml;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>
/// A release pinned to a commit that Manifest/upstream-builders.tsv describes has its app versions held to the builders:
/// a builder that pins its version must be named with it, one without an app version takes none, one that honours
/// var_appversion takes an exact release (without the tag's 'v') or an N.x pattern.
/// </summary>
public sealed partial class AppVersionTests
{
    private const string Commit = "dc355d07bff60c8e7bd3263a9c663c391c91ad89";

    [Fact]
    public void The_table_at_the_pinned_commit_says_which_builders_take_var_appversion()
    {
        UpstreamBuilders.Commits.Should().Equal(Commit);
        UpstreamBuilders.Honouring(Commit).Select(b => (b.Builder, b.Repo, b.TagPrefix)).Should().Equal(
            ("ct/zwave-js-ui.sh", "zwave-js/zwave-js-ui", "v"),
            ("ct/zigbee2mqtt.sh", "Koenkk/zigbee2mqtt", ""));
        UpstreamBuilders.Find(Commit, "ct/frigate.sh").Should().BeEquivalentTo(new { Versioning = AppVersioning.Pinned, Version = "0.17.1", Source = "install/frigate-install.sh:113" });
        UpstreamBuilders.All.Where(b => b.Versioning == AppVersioning.None).Select(b => b.Builder).Should().Equal("ct/docker.sh", "ct/freepbx.sh", "vm/haos-vm.sh");
        UpstreamBuilders.Find(Commit, "ct/zwave-js-ui.sh")!.TagFor("11.19.0").Should().Be("v11.19.0");
        UpstreamBuilders.Find(Commit, "ct/zigbee2mqtt.sh")!.TagFor("2.10.1").Should().Be("2.10.1");
    }

    [Fact]
    public void The_host_wrapper_passes_var_appversion_to_the_honouring_builders_with_their_tag_prefix()
    {
        var wrapper = File.ReadAllText(Path.Combine(RepoPaths.Root, "host", "ctrlable-build"));
        var setting = WrapperAppVersionBuilders().Match(wrapper);

        setting.Success.Should().BeTrue("host/ctrlable-build sets APPVERSION_BUILDERS");
        setting.Groups["value"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            UpstreamBuilders.Honouring(Commit).Select(b => b.TagPrefix.Length == 0 ? b.Builder : $"{b.Builder}={b.TagPrefix}"));
    }

    [Fact]
    public void Specs_builder_table_says_what_the_table_says()
    {
        // | `ct/zwave-js-ui.sh` | honoured | `zwave-js/zwave-js-ui` | `v` | — | `install/zwave-js-ui-install.sh:16` | ...
        var rows = File.ReadAllLines(Path.Combine(RepoPaths.Root, "SPEC.md")).Select(l => SpecRow().Match(l)).Where(m => m.Success)
            .Select(m => (m.Groups["builder"].Value, m.Groups["versioning"].Value, m.Groups["source"].Value));

        rows.Should().Equal(UpstreamBuilders.All.Select(b => (b.Builder, b.Versioning.ToString().ToLowerInvariant(), b.Source)));
    }

    [Fact]
    public void A_pinning_builder_must_be_named_with_the_version_it_installs()
    {
        const string Text = "    app_version: \"0.14.x\"";

        var result = Parse(WithLine(41, Text));

        result.ShouldHaveErrorAt(41, Col(Text, "\"0.14.x\""), "templates.frigate.app_version",
            "app_version '0.14.x' is not what ct/frigate.sh installs: at dc355d07bff6 it installs 0.17.1 whatever var_appversion says",
            "install/frigate-install.sh:113", "set app_version to \"0.17.1\"");
        result.Errors.Should().ContainSingle();
        Parse(WithLine(41, "    app_version: \"0.17.1\"")).Errors.Should().BeEmpty();
    }

    [Theory]
    [InlineData(35, "docker-portainer", "ct/docker.sh", "Docker CE")]
    [InlineData(47, "freepbx", "ct/freepbx.sh", "sng_freepbx_debian_install.sh")] // appended to the last template
    [InlineData(15, "ctrlable-pro", "vm/haos-vm.sh", "its version is haos_version")]
    public void A_builder_without_an_app_version_takes_none(int line, string template, string builder, string installs)
    {
        const string Text = "    app_version: \"1.0\"";

        var result = Parse(line == 47 ? WithAppended(Text) : WithLine(line, Text));

        result.ShouldHaveErrorAt(line, Col(Text, "\"1.0\""), $"templates.{template}.app_version", $"{builder} has no app version", installs, "remove app_version");
        result.Errors.Should().ContainSingle();
    }

    [Theory]
    [InlineData("11.19.0")]
    [InlineData("11.x")]
    [InlineData("11.19.x")]
    [InlineData("9.x")]
    public void An_honouring_builder_takes_an_exact_release_or_a_pattern(string version)
    {
        var result = Parse(WithLine(22, $"    app_version: \"{version}\""));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
    }

    [Fact]
    public void An_honouring_builders_version_is_written_without_the_tags_v()
    {
        var result = Parse(WithLine(22, "    app_version: \"v11.19.0\""));

        result.ShouldHaveErrorAt(22, 18, "templates.zwavejs.app_version", "without the 'v' (11.19.0)", "the build passes ct/zwave-js-ui.sh the tag v11.19.0");
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("11.19.0-beta.1")]
    [InlineData("11.x.x")]
    public void An_honouring_builder_refuses_what_is_neither_a_release_nor_a_pattern(string version)
    {
        var result = Parse(WithLine(22, $"    app_version: \"{version}\""));

        result.ShouldHaveErrorAt(22, 18, "templates.zwavejs.app_version", "must be an exact release of zwave-js/zwave-js-ui such as 11.19.0, or a pattern such as 11.x");
    }

    [Fact]
    public void A_builder_the_table_does_not_know_at_the_commit_takes_no_app_version()
    {
        var result = Parse(With((20, "    builder: ct/homebridge.sh")));

        result.ShouldHaveErrorAt(22, 18, "templates.zwavejs.app_version", "does not say what ct/homebridge.sh does with var_appversion at dc355d07bff6");
    }

    [Fact]
    public void A_commit_the_table_does_not_know_is_a_warning_that_the_versions_are_unchecked()
    {
        var result = Parse(With((3, "community_scripts_commit: \"0123456789abcdef0123456789abcdef01234567\""), (22, "    app_version: \"0.1.x\"")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        var warning = result.Warnings.Should().ContainSingle(w => w.Path == "community_scripts_commit").Subject;
        warning.Line.Should().Be(3);
        warning.Message.Should().Be("app_version of zwavejs is not checked: Manifest/upstream-builders.tsv records no builders at commit 0123456789ab "
            + "(it knows dc355d07bff6); read the install scripts at this commit and record them there (SPEC §4)");
    }

    [Fact]
    public void The_shipped_release_names_what_its_builders_install()
    {
        var manifest = ManifestParser.Parse("releases/2026.06.yaml", File.ReadAllText(Path.Combine(RepoPaths.Releases, "2026.06.yaml"))).Manifest!;

        manifest.Templates.ToDictionary(t => t.Name, t => t.AppVersion).Should().Equal(new Dictionary<string, string?>
        {
            ["ctrlable-pro"] = null,
            ["zwavejs"] = "11.19.0",
            ["zigbee2mqtt"] = "2.10.1",
            ["docker-portainer"] = null,
            ["frigate"] = "0.17.1",
            ["freepbx"] = null,
        });
    }

    // | `builder` | versioning | ... | `source` | — a row of SPEC §4's builder table.
    [GeneratedRegex(@"^\| `(?<builder>(ct|vm)/[a-z0-9-]+\.sh)` \| (?<versioning>honoured|pinned|none) \|.*\| `(?<source>[a-z/0-9.-]+\.sh:[0-9]+)` \|")]
    private static partial Regex SpecRow();

    [GeneratedRegex("""^APPVERSION_BUILDERS="(?<value>[^"]*)"$""", RegexOptions.Multiline)]
    private static partial Regex WrapperAppVersionBuilders();
}
