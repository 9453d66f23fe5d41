using Ctrlable.Provisioner.Manifest;
using static Ctrlable.Provisioner.Tests.Manifest.ManifestYaml;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>Semantic rules: pins, formats, ranges, uniqueness, decision cross-checks.</summary>
public sealed class ManifestRuleTests
{
    [Theory]
    [InlineData("main", "'main' is a branch")]
    [InlineData("master", "'master' is a branch")]
    [InlineData("HEAD", "'HEAD' is a branch")]
    [InlineData("develop", "'develop' is a branch")]
    [InlineData("feature/zwave", "'feature/zwave' is not a tag")]
    [InlineData("latest", "'latest' is not a tag")]
    [InlineData("2026-13-01", "'2026-13-01' is not a tag")]
    [InlineData("v2026", "'v2026' is not a tag")]
    [InlineData("dc355d07", "'dc355d07' is not a tag")]
    [InlineData("DC355D07BFF60C8E7BD3263A9C663C391C91AD89", "is not a tag")]
    public void Community_scripts_ref_must_be_a_tag(string reference, string message)
    {
        var text = $"community_scripts_ref: {reference}";

        var result = Parse(WithLine(2, text));

        result.ShouldHaveErrorAt(2, Col(text, reference), "community_scripts_ref", message,
            "pin an upstream tag such as 2026-05-30 and record the commit it points to in community_scripts_commit");
        result.Errors.Should().ContainSingle();
    }

    [Theory]
    [InlineData("2026-05-30")]
    [InlineData("v1.2.3")]
    [InlineData("v2026.05.3")]
    [InlineData("v1.2")]
    public void Tags_are_accepted_as_ref(string reference)
    {
        var result = Parse(WithLine(2, $"community_scripts_ref: \"{reference}\""));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.CommunityScriptsRef.Should().Be(reference);
    }

    [Theory]
    [InlineData("DC355D07BFF60C8E7BD3263A9C663C391C91AD89")]
    [InlineData("dc355d07")]
    [InlineData("2026-05-30")]
    public void Community_scripts_commit_must_be_40_lowercase_hex(string commit)
    {
        var text = $"community_scripts_commit: {commit}";

        var result = Parse(WithLine(3, text));

        result.ShouldHaveErrorAt(3, Col(text, commit), "community_scripts_commit", $"'{commit}'", "40-character lowercase hex");
    }

    [Theory]
    [InlineData("2026.13")]
    [InlineData("2026.00")]
    [InlineData("2026.6")]
    [InlineData("26.06")]
    [InlineData("2026-06")]
    [InlineData("2026.06.x")]
    [InlineData("2026.06.0")]
    [InlineData("v2026.06")]
    public void Release_must_be_year_dot_month(string release)
    {
        var text = $"release: \"{release}\"";

        var result = Parse(WithLine(1, text));

        result.ShouldHaveErrorAt(1, Col(text, "\""), "release", $"release '{release}'", "YYYY.MM or YYYY.MM.N");
        result.Errors.Should().ContainSingle();
    }

    [Theory]
    [InlineData("2026.01")]
    [InlineData("2026.12")]
    [InlineData("2026.06.2")]
    public void Release_formats_that_are_accepted(string release)
    {
        var result = Parse(WithLine(1, $"release: \"{release}\""));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Release.Should().Be(release);
    }

    [Theory]
    [InlineData("8.1", "is below 8.2")]
    [InlineData("7.4", "is below 8.2")]
    [InlineData("eight", "is not a major.minor version")]
    [InlineData("8", "is not a major.minor version")]
    [InlineData("8.2.1", "is not a major.minor version")]
    [InlineData("8.x", "is not a major.minor version")]
    public void Proxmox_min_version_must_be_at_least_8_2(string version, string message)
    {
        var text = $"proxmox_min_version: {version}";

        var result = Parse(WithLine(4, text));

        result.ShouldHaveErrorAt(4, Col(text, version), "proxmox_min_version", version, message);
    }

    [Theory]
    [InlineData("8.2")]
    [InlineData("8.10")]
    [InlineData("9.0")]
    public void Proxmox_versions_that_are_accepted(string version)
    {
        var result = Parse(WithLine(4, $"proxmox_min_version: \"{version}\""));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
    }

    [Theory]
    [InlineData(20, "    builder: vm/zwave-js-ui.sh", "templates.zwavejs.builder", "does not match kind lxc")]
    [InlineData(12, "    builder: ct/haos-vm.sh", "templates.ctrlable-pro.builder", "does not match kind vm")]
    [InlineData(20, "    builder: ct/../zwave-js-ui.sh", "templates.zwavejs.builder", "no '..'")]
    [InlineData(20, "    builder: /ct/zwave-js-ui.sh", "templates.zwavejs.builder", "no leading '/'")]
    [InlineData(20, "    builder: ct/sub/zwave-js-ui.sh", "templates.zwavejs.builder", "must look like ct/<name>.sh")]
    [InlineData(20, "    builder: zwave-js-ui.sh", "templates.zwavejs.builder", "must look like ct/<name>.sh")]
    [InlineData(20, "    builder: ct/zwave-js-ui", "templates.zwavejs.builder", "must look like ct/<name>.sh")]
    [InlineData(20, "    builder: install/zwave-js-ui.sh", "templates.zwavejs.builder", "must look like ct/<name>.sh")]
    public void Builder_must_be_a_script_matching_the_kind(int line, string text, string path, string message)
    {
        var builder = text.Split(": ")[1];

        var result = Parse(WithLine(line, text));

        result.ShouldHaveErrorAt(line, Col(text, builder), path, $"'{builder}'", message);
    }

    [Theory]
    [InlineData(25, "      cpu: 0", "templates.zwavejs.resources.cpu", "cpu 0 is outside 1..64")]
    [InlineData(25, "      cpu: 65", "templates.zwavejs.resources.cpu", "cpu 65 is outside 1..64")]
    [InlineData(26, "      ram: 255", "templates.zwavejs.resources.ram", "ram 255 MiB is outside 256..262144 MiB")]
    [InlineData(26, "      ram: 262145", "templates.zwavejs.resources.ram", "ram 262145 MiB is outside")]
    [InlineData(27, "      disk: 1", "templates.zwavejs.resources.disk", "disk 1 GB is outside 2..4096 GB")]
    [InlineData(27, "      disk: 4097", "templates.zwavejs.resources.disk", "disk 4097 GB is outside")]
    [InlineData(27, "      disk: -8", "templates.zwavejs.resources.disk", "disk -8 GB is outside")]
    public void Resources_must_be_in_range(int line, string text, string path, string message)
    {
        var result = Parse(WithLine(line, text));

        result.ShouldHaveErrorAt(line, Col(text, text.Split(": ")[1]), path, message);
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void The_home_assistant_disk_cannot_be_smaller_than_its_image()
    {
        const string Text = "    resources: { cpu: 2, ram: 4096, disk: 16 }";

        var result = Parse(WithLine(17, Text));

        result.ShouldHaveErrorAt(17, Col(Text, "16"), "templates.ctrlable-pro.resources.disk", "disk 16 GB is smaller than the Home Assistant OS image (32 GB)");
        result.Errors.Should().ContainSingle();
        Parse(WithLine(17, "    resources: { cpu: 2, ram: 4096, disk: 64 }")).Errors.Should().BeEmpty();
    }

    [Fact]
    public void Resources_in_flow_style_are_located_per_key()
    {
        const string Text = "    resources: { cpu: 4, ram: 100, disk: 20 }";

        var result = Parse(WithLine(34, Text));

        result.ShouldHaveErrorAt(34, Col(Text, "100"), "templates.docker-portainer.resources.ram", "ram 100 MiB");
    }

    [Fact]
    public void Resource_bounds_are_inclusive()
    {
        var result = Parse(With((25, "      cpu: 64"), (26, "      ram: 262144"), (27, "      disk: 4096"), (46, "    resources: { cpu: 1, ram: 256, disk: 2 }")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Templates[1].Resources.Should().Be(new ResourceSpec(64, 262144, 4096));
        result.Manifest.Templates[4].Resources.Should().Be(new ResourceSpec(1, 256, 2));
    }

    [Theory]
    [InlineData("    vmid: 99", "vmid 99 is outside 100..999999999")]
    [InlineData("    vmid: 1000000000", "vmid 1000000000 is outside")]
    [InlineData("    vmid: 0", "vmid 0 is outside")]
    public void Vmid_must_be_in_the_proxmox_range(string text, string message)
    {
        var result = Parse(WithLine(21, text));

        result.ShouldHaveErrorAt(21, 11, "templates.zwavejs.vmid", message);
    }

    [Fact]
    public void Vmid_bounds_are_inclusive()
    {
        var result = Parse(With((21, "    vmid: 100"), (45, "    vmid: 999999999")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
    }

    [Fact]
    public void Duplicate_vmid_is_reported_at_the_second_template()
    {
        var result = Parse(WithLine(32, "    vmid: 9001"));

        result.ShouldHaveErrorAt(32, 11, "templates.docker-portainer.vmid", "vmid 9001 is already used by template 'zwavejs'");
        result.Errors.Should().ContainSingle();
    }

    [Theory]
    [InlineData("Zwavejs")]
    [InlineData("zwave_js")]
    [InlineData("-zwavejs")]
    [InlineData("zwavejs-")]
    [InlineData("zwave.js")]
    [InlineData("\"zwave js\"")]
    [InlineData("abcdefghij-abcdefghij-abcdefghij-abcdefgh")] // 41 characters
    public void Template_name_must_be_a_dns_label(string name)
    {
        var text = $"  {name}:";
        var unquoted = name.Trim('"');

        var result = Parse(WithLine(18, text));

        result.ShouldHaveErrorAt(18, 3, "templates." + unquoted, $"template name '{unquoted}'", "DNS label");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void Template_name_of_40_characters_is_accepted()
    {
        var result = Parse(WithLine(18, "  abcdefghij-abcdefghij-abcdefghij-abcdefg:"));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
    }

    [Theory]
    [InlineData(6, "  frigate_placement: dockr", "decisions.frigate_placement", "dockr", "allowed: separate, docker")]
    [InlineData(7, "  freepbx_kind: container", "decisions.freepbx_kind", "container", "allowed: lxc, vm")]
    [InlineData(8, "  haos_uuid_policy: Regenerate", "decisions.haos_uuid_policy", "Regenerate", "allowed: regenerate, keep")]
    [InlineData(19, "    kind: ct", "templates.zwavejs.kind", "ct", "allowed: lxc, vm")]
    public void Unknown_enum_value_lists_the_allowed_values(int line, string text, string path, string value, string allowed)
    {
        var result = Parse(WithLine(line, text));

        result.ShouldHaveErrorAt(line, Col(text, value), path, $"unknown value '{value}'", allowed);
    }

    [Fact]
    public void Freepbx_kind_vm_is_refused_at_the_decision_with_the_reason()
    {
        // Even with a VM freepbx template: there is no upstream FreePBX VM builder to build it from.
        var result = Parse(With((7, "  freepbx_kind: vm"), (43, "    kind: vm"), (44, "    builder: vm/debian-vm.sh")));

        result.ShouldHaveErrorAt(7, 17, "decisions.freepbx_kind", "freepbx_kind 'vm' is not built", "no FreePBX VM builder", "keep lxc");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void Freepbx_kind_lxc_requires_an_lxc_freepbx_template()
    {
        var result = Parse(With((43, "    kind: vm"), (44, "    builder: vm/debian-vm.sh")));

        result.ShouldHaveErrorAt(43, 11, "templates.freepbx.kind", "kind vm", "decisions.freepbx_kind is lxc");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void Freepbx_kind_lxc_is_fine_without_a_freepbx_template()
    {
        var result = Parse(With((42, "#"), (43, "#"), (44, "#"), (45, "#"), (46, "#")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
    }

    [Fact]
    public void Frigate_placement_docker_is_refused_at_the_decision_with_the_reason()
    {
        // Also without a frigate template, as that placement would have it.
        var result = Parse(With((6, "  frigate_placement: docker"), (36, "#"), (37, "#"), (38, "#"), (39, "#"), (40, "#"), (41, "#")));

        result.ShouldHaveErrorAt(6, 22, "decisions.frigate_placement", "frigate_placement 'docker' is not built",
            "first boot to start and wire a Frigate container", "keep separate");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void Frigate_placement_separate_without_a_frigate_template_is_fine()
    {
        var result = Parse(With((36, "#"), (37, "#"), (38, "#"), (39, "#"), (40, "#"), (41, "#")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
    }
}
