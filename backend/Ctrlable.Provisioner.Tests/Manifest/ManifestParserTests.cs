using Ctrlable.Provisioner.Manifest;
using static Ctrlable.Provisioner.Tests.Manifest.ManifestYaml;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>What a valid manifest turns into: values, defaults, file order.</summary>
public sealed class ManifestParserTests
{
    [Fact]
    public void Valid_manifest_maps_every_field()
    {
        var result = Parse(Valid);

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.IsValid.Should().BeTrue();
        var manifest = result.Manifest!;
        manifest.Release.Should().Be("2026.06");
        manifest.CommunityScriptsRef.Should().Be("2026-05-30");
        manifest.CommunityScriptsCommit.Should().Be("dc355d07bff60c8e7bd3263a9c663c391c91ad89");
        manifest.ProxmoxMinVersion.Should().Be("8.2");
        manifest.Decisions.Should().Be(new ReleaseDecisions(FrigatePlacement.Separate, FreePbxKind.Lxc, HaosUuidPolicy.Regenerate));
        manifest.Templates.Select(t => t.Name).Should().Equal("ctrlable-pro", "zwavejs", "docker-portainer", "frigate", "freepbx");

        manifest.Templates[0].Should().Be(new TemplateSpec(
            "ctrlable-pro", TemplateKind.Vm, "vm/haos-vm.sh", 9000, null, new OsSpec("debian", "12"),
            new ResourceSpec(2, 4096, 32), Unprivileged: true, Portainer: false, HaosVersion: "15.1", Rebrand: true,
            BaseBackup: "ctrlable-base-2026.06.tar"));
        manifest.Templates[1].Should().Be(new TemplateSpec(
            "zwavejs", TemplateKind.Lxc, "ct/zwave-js-ui.sh", 9001, "9.x", new OsSpec("debian", "12"),
            new ResourceSpec(2, 2048, 8), Unprivileged: true, Portainer: false, HaosVersion: null, Rebrand: false, BaseBackup: null));
        manifest.Templates[2].Portainer.Should().BeTrue();
        manifest.Templates[2].Unprivileged.Should().BeFalse();
    }

    [Fact]
    public void Optional_parts_take_their_defaults()
    {
        // No decisions block, no os, no unprivileged/portainer/rebrand.
        var yaml = """
            release: "2026.07"
            community_scripts_ref: v2026.05.3
            community_scripts_commit: 0123456789abcdef0123456789abcdef01234567
            proxmox_min_version: 9.0
            templates:
              zigbee2mqtt:
                kind: lxc
                builder: ct/zigbee2mqtt.sh
                vmid: 9002
                resources: { cpu: 1, ram: 512, disk: 4 }
            """;

        var result = Parse(yaml);

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        var manifest = result.Manifest!;
        manifest.CommunityScriptsCommit.Should().Be("0123456789abcdef0123456789abcdef01234567");
        manifest.ProxmoxMinVersion.Should().Be("9.0");
        manifest.Decisions.Should().Be(ReleaseDecisions.Default);
        manifest.Decisions.Should().Be(new ReleaseDecisions(FrigatePlacement.Separate, FreePbxKind.Lxc, HaosUuidPolicy.Regenerate));
        var template = manifest.Templates.Should().ContainSingle().Subject;
        template.Os.Should().Be(new OsSpec("debian", "12"));
        template.Unprivileged.Should().BeTrue();
        template.Portainer.Should().BeFalse();
        template.Rebrand.Should().BeFalse();
        template.AppVersion.Should().BeNull();
    }

    [Fact]
    public void A_non_default_uuid_policy_is_read()
    {
        // The other decisions' alternatives are refused (ManifestRuleTests); the UUID policy's is built.
        var result = Parse(WithLine(8, "  haos_uuid_policy: keep"));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Decisions.Should().Be(new ReleaseDecisions(FrigatePlacement.Separate, FreePbxKind.Lxc, HaosUuidPolicy.Keep));
    }

    [Fact]
    public void Empty_decisions_and_os_mean_defaults()
    {
        var yaml = With((5, "decisions:"), (6, "#"), (7, "#"), (8, "#"), (23, "    os:"));

        var result = Parse(yaml);

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Decisions.Should().Be(ReleaseDecisions.Default);
        result.Manifest.Templates[1].Os.Should().Be(OsSpec.Default);
    }

    [Fact]
    public void Any_scalar_is_accepted_for_string_fields()
    {
        var yaml = With(
            (1, "release: 2026.06"),
            (14, "    haos_version: 15.1"),
            (22, "    app_version: 9"),
            (23, "    os: { distro: ubuntu, version: 24.04 }"));

        var result = Parse(yaml);

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Release.Should().Be("2026.06");
        result.Manifest.Templates[0].HaosVersion.Should().Be("15.1");
        result.Manifest.Templates[1].AppVersion.Should().Be("9");
        result.Manifest.Templates[1].Os.Should().Be(new OsSpec("ubuntu", "24.04"));
    }

    [Fact]
    public void Anchors_and_aliases_resolve()
    {
        var yaml = With(
            (17, "    resources: &small { cpu: 2, ram: 4096, disk: 32 }"),
            (46, "    resources: *small"));

        var result = Parse(yaml);

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Templates[4].Resources.Should().Be(new ResourceSpec(2, 4096, 32));
    }

    [Fact]
    public void The_real_release_file_is_valid()
    {
        var path = Path.Combine(RepoRoot.Find(), "releases", "2026.06.yaml");

        var result = ManifestParser.Parse("releases/2026.06.yaml", File.ReadAllText(path));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.IsValid.Should().BeTrue();
        var manifest = result.Manifest!;
        manifest.Release.Should().Be("2026.06");
        manifest.CommunityScriptsRef.Should().Be("2026-05-30");
        manifest.CommunityScriptsCommit.Should().Be("dc355d07bff60c8e7bd3263a9c663c391c91ad89");
        manifest.Templates.Select(t => (t.Name, t.Vmid)).Should().Equal(
            ("ctrlable-pro", 9000), ("zwavejs", 9001), ("zigbee2mqtt", 9002),
            ("docker-portainer", 9003), ("frigate", 9004), ("freepbx", 9005));
        manifest.Templates[0].Os.Should().Be(OsSpec.Default);
    }

    [Fact]
    public void Error_formats_like_a_compiler_diagnostic()
    {
        var error = new ManifestError("releases/2026.06.yaml", 12, 5, "templates.zwavejs.resouces", "unknown key 'resouces' (did you mean 'resources'?)");

        error.ToString().Should().Be("releases/2026.06.yaml:12:5: templates.zwavejs.resouces: unknown key 'resouces' (did you mean 'resources'?)");
    }

    [Fact]
    public void All_errors_are_collected_and_sorted_by_position()
    {
        var yaml = With(
            (1, "release: 2026.6"),
            (21, "    vmid: abc"),
            (25, "      cpu: two"),
            (33, "    portainr: true"),
            (45, "    vmid: 50"));

        var result = Parse(yaml);

        result.Errors.Select(e => (e.Line, e.Path)).Should().Equal(
            (1, "release"),
            (21, "templates.zwavejs.vmid"),
            (25, "templates.zwavejs.resources.cpu"),
            (33, "templates.docker-portainer.portainr"),
            (45, "templates.freepbx.vmid"));
    }
}
