using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Tests.Infrastructure;
using static Ctrlable.Provisioner.Tests.Manifest.ManifestYaml;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>The shipped release has no privileged container; a manifest that asks for one is warned, not refused.</summary>
public sealed class PrivilegedTemplateTests
{
    [Fact]
    public void The_shipped_release_builds_every_container_unprivileged_and_has_no_warnings()
    {
        var result = ManifestParser.Parse("releases/2026.06.yaml", File.ReadAllText(Path.Combine(RepoPaths.Releases, "2026.06.yaml")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Warnings.Should().BeEmpty(ManifestAssertions.Describe(result.Warnings));
        result.Manifest!.Templates.Where(t => t.Kind == TemplateKind.Lxc).Should().OnlyContain(t => t.Unprivileged);
        result.Manifest.Templates.Select(t => t.Name).Should().Contain(["docker-portainer", "frigate"]);
    }

    [Fact]
    public void A_privileged_container_is_one_warning_at_its_line()
    {
        const string Text = "    unprivileged: false";

        var result = Parse(With((35, Text), (41, "    unprivileged: true")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.IsValid.Should().BeTrue("a warning does not make the manifest invalid");
        var warning = result.Warnings.Should().ContainSingle().Subject;
        warning.Should().BeEquivalentTo(new { File = FileName, Line = 35, Column = Col(Text, "false"), Path = "templates.docker-portainer.unprivileged" });
        warning.Message.Should().Contain("privileged containers share the host's root")
            .And.Contain("the host refuses them unless ALLOW_PRIVILEGED=yes in ctrlable-build.conf");
    }

    [Fact]
    public void Unprivileged_containers_and_vms_have_no_warning()
    {
        var result = Parse(With((35, "    unprivileged: true"), (41, "#"), (15, "    unprivileged: false")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Warnings.Should().BeEmpty("a VM has no unprivileged mode to lose");
    }
}
