using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>
/// The handoff spec's example manifest (its YAML re-indented, its tag "v2026.05.3" — not an upstream tag — swapped for
/// 2026-05-30) is a valid release: vmid_base inside the first template, no commit, no resources for the HAOS VM, no os
/// for frigate and freepbx, two privileged containers.
/// </summary>
public sealed class HandoffSpecManifestTests
{
    private const string File = "releases/2026.06.yaml";

    private static string Example => System.IO.File.ReadAllText(Path.Combine(RepoPaths.Root, "backend", "Ctrlable.Provisioner.Tests", "Manifest", "Fixtures", "handoff-spec-example.yaml"));

    [Fact]
    public void The_spec_example_validates_with_warnings_for_the_missing_commit_and_the_two_privileged_containers()
    {
        var result = ManifestParser.Parse(File, Example);

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.IsValid.Should().BeTrue();
        result.Warnings.Select(w => (w.Line, w.Column, w.Path)).Should().Equal(
            (2, 24, "community_scripts_commit"),
            (32, 19, "templates.docker-portainer.unprivileged"),
            (38, 19, "templates.frigate.unprivileged"));
        result.Warnings[0].Message.Should().Contain("not pinned to a commit").And.Contain("scripts/pin-release.sh releases/2026.06.yaml")
            .And.Contain("a build is refused until it is");

        var manifest = result.Manifest!;
        manifest.CommunityScriptsCommit.Should().BeNull();
        manifest.Templates.Select(t => (t.Name, t.Vmid)).Should().Equal(
            ("ctrlable-pro", 9000), ("zwavejs", 9001), ("zigbee2mqtt", 9002), ("docker-portainer", 9003), ("frigate", 9004), ("freepbx", 9005));
        manifest.Templates[0].Resources.Should().Be(new ResourceSpec(2, 4096, 32), "Home Assistant's minimums for a HAOS VM");
        manifest.Templates.Single(t => t.Name == "frigate").Os.Should().Be(OsSpec.Default);
        manifest.Templates.Single(t => t.Name == "freepbx").Os.Should().Be(OsSpec.Default);
        manifest.Templates.Where(t => t.Name is "docker-portainer" or "frigate").Should().OnlyContain(t => !t.Unprivileged);
    }

    [Fact]
    public void Once_pinned_the_spec_examples_versions_are_held_to_what_its_builders_install()
    {
        var pinned = Example.Replace("proxmox_min_version:", "community_scripts_commit: \"dc355d07bff60c8e7bd3263a9c663c391c91ad89\"\nproxmox_min_version:", StringComparison.Ordinal);

        var result = ManifestParser.Parse(File, pinned);

        // 9.x and 1.x are patterns pin-release.sh resolves; frigate's builder installs 0.17.1 whatever the manifest says.
        var error = result.Errors.Should().ContainSingle().Subject;
        error.Should().BeEquivalentTo(new { Line = 37, Column = 18, Path = "templates.frigate.app_version" });
        error.Message.Should().Contain("ct/frigate.sh installs").And.Contain("0.17.1").And.Contain("install/frigate-install.sh:113");
        result.Warnings.Should().NotContain(w => w.Path == "community_scripts_commit");
    }
}
