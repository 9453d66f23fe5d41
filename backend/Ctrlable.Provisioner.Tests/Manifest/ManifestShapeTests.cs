using static Ctrlable.Provisioner.Tests.Manifest.ManifestYaml;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>Shape errors: YAML syntax, unknown keys, wrong types, missing required keys.</summary>
public sealed class ManifestShapeTests
{
    [Theory]
    [InlineData(4, "proxmox_min_versoin: \"8.2\"", "proxmox_min_versoin", "did you mean 'proxmox_min_version'?")]
    [InlineData(7, "  freepbx_knd: lxc", "decisions.freepbx_knd", "did you mean 'freepbx_kind'?")]
    [InlineData(22, "    app_verison: \"9.x\"", "templates.zwavejs.app_verison", "did you mean 'app_version'?")]
    [InlineData(23, "    os: { distro: debian, versoin: \"12\" }", "templates.zwavejs.os.versoin", "did you mean 'version'?")]
    [InlineData(24, "    resouces:", "templates.zwavejs.resouces", "did you mean 'resources'?")]
    [InlineData(26, "      rams: 2048", "templates.zwavejs.resources.rams", "did you mean 'ram'?")]
    [InlineData(3, "Community_Scripts_Commit: \"dc355d07bff60c8e7bd3263a9c663c391c91ad89\"", "Community_Scripts_Commit", "did you mean 'community_scripts_commit'?")]
    public void Unknown_key_is_rejected_with_a_suggestion(int line, string text, string path, string hint)
    {
        var key = path.Split('.')[^1];

        var result = Parse(WithLine(line, text));

        result.ShouldHaveErrorAt(line, Col(text, key), path, $"unknown key '{key}'", hint);
    }

    [Fact]
    public void Unknown_key_without_a_close_match_lists_the_allowed_keys()
    {
        const string Text = "    color: blue";

        var result = Parse(WithLine(22, Text));

        result.ShouldHaveErrorAt(22, 5, "templates.zwavejs.color", "unknown key 'color'", "expected one of: kind, builder, vmid");
        result.Errors.Should().ContainSingle();
    }

    [Theory]
    [InlineData(25, "      cpu: two", "templates.zwavejs.resources.cpu", "two", "expected an integer, got 'two'")]
    [InlineData(21, "    vmid: \"abc\"", "templates.zwavejs.vmid", "\"abc\"", "expected an integer, got the quoted string \"abc\"")]
    [InlineData(21, "    vmid: \"9001\"", "templates.zwavejs.vmid", "\"9001\"", "write numbers without quotes")]
    [InlineData(27, "      disk: 8.5", "templates.zwavejs.resources.disk", "8.5", "expected an integer, got '8.5'")]
    [InlineData(21, "    vmid: 99999999999", "templates.zwavejs.vmid", "99999999999", "expected an integer, got '99999999999'")]
    [InlineData(28, "    unprivileged: maybe", "templates.zwavejs.unprivileged", "maybe", "expected true or false, got 'maybe'")]
    [InlineData(15, "    rebrand: yes", "templates.ctrlable-pro.rebrand", "yes", "expected true or false, got 'yes'")]
    [InlineData(33, "    portainer: \"true\"", "templates.docker-portainer.portainer", "\"true\"", "expected true or false, got the quoted string \"true\"")]
    [InlineData(23, "    os: debian", "templates.zwavejs.os", "debian", "expected a mapping, got 'debian'")]
    [InlineData(20, "    builder: [ct/a.sh, ct/b.sh]", "templates.zwavejs.builder", "builder", "expected a string, got a list")]
    [InlineData(2, "community_scripts_ref: { tag: 2026-05-30 }", "community_scripts_ref", "community_scripts_ref", "expected a string, got a mapping")]
    [InlineData(19, "    kind: [lxc]", "templates.zwavejs.kind", "kind", "expected one of lxc, vm, got a list")]
    public void Wrong_type_is_rejected(int line, string text, string path, string locatedAt, string message)
    {
        var result = Parse(WithLine(line, text));

        result.ShouldHaveErrorAt(line, Col(text, locatedAt), path, message);
    }

    [Fact]
    public void Scalar_where_the_templates_mapping_is_expected_is_rejected()
    {
        const string Yaml = """
            release: "2026.06"
            community_scripts_ref: "2026-05-30"
            proxmox_min_version: "8.2"
            templates: zwavejs
            """;

        Parse(Yaml).ShouldHaveErrorAt(4, 12, "templates", "expected a mapping of template name to template, got 'zwavejs'");
    }

    [Fact]
    public void Scalar_where_a_template_mapping_is_expected_is_rejected()
    {
        var result = Parse(WithAppended("  zigbee2mqtt: ct/zigbee2mqtt.sh"));

        result.ShouldHaveErrorAt(47, 3, "templates.zigbee2mqtt", "expected a template mapping", "'ct/zigbee2mqtt.sh'");
    }

    [Fact]
    public void List_at_the_top_level_is_rejected()
    {
        Parse("- release: 2026.06\n").ShouldHaveErrorAt(1, 1, "", "expected a mapping of release settings at the top level, got a list");
    }

    [Theory]
    [InlineData(1, "# release removed", "release", 2, 1)]
    [InlineData(2, "# ref removed", "community_scripts_ref", 1, 1)]
    [InlineData(4, "# proxmox_min_version removed", "proxmox_min_version", 1, 1)]
    [InlineData(19, "    # kind removed", "templates.zwavejs.kind", 18, 3)]
    [InlineData(20, "    # builder removed", "templates.zwavejs.builder", 18, 3)]
    [InlineData(21, "    # vmid removed", "templates.zwavejs.vmid", 18, 3)]
    [InlineData(34, "    # resources removed", "templates.docker-portainer.resources", 29, 3)]
    [InlineData(26, "      # ram removed", "templates.zwavejs.resources.ram", 24, 5)]
    public void Missing_required_key_is_reported_at_the_mapping_that_lacks_it(int line, string text, string path, int expectedLine, int expectedColumn)
    {
        var result = Parse(WithLine(line, text));

        result.ShouldHaveErrorAt(expectedLine, expectedColumn, path, $"missing required key '{path.Split('.')[^1]}'");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void Resources_in_flow_style_must_have_all_three_keys()
    {
        var result = Parse(WithLine(46, "    resources: { cpu: 2, ram: 2048 }"));

        result.ShouldHaveErrorAt(46, 5, "templates.freepbx.resources.disk", "missing required key 'disk'");
    }

    [Fact]
    public void Required_key_without_a_value_is_rejected()
    {
        var result = Parse(WithLine(20, "    builder:"));

        result.ShouldHaveErrorAt(20, 5, "templates.zwavejs.builder", "'builder' is required but has no value");
    }

    [Fact]
    public void Templates_missing_entirely_is_rejected()
    {
        const string Yaml = """
            release: "2026.06"
            community_scripts_ref: "2026-05-30"
            proxmox_min_version: "8.2"
            """;

        Parse(Yaml).ShouldHaveErrorAt(1, 1, "templates", "missing required key 'templates'");
    }

    [Theory]
    [InlineData("templates: {}")]
    [InlineData("templates:")]
    public void Templates_must_not_be_empty(string templatesLine)
    {
        var yaml = $"""
            release: "2026.06"
            community_scripts_ref: "2026-05-30"
            proxmox_min_version: "8.2"
            {templatesLine}
            """;

        Parse(yaml).ShouldHaveErrorAt(4, 1, "templates", "at least one template");
    }

    [Fact]
    public void Haos_vm_template_needs_haos_version()
    {
        var result = Parse(WithLine(14, "    # haos_version removed"));

        result.ShouldHaveErrorAt(10, 3, "templates.ctrlable-pro.haos_version", "vm/haos-vm.sh", "needs haos_version");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void Empty_haos_version_is_rejected_where_it_is_written()
    {
        const string Text = "    haos_version: \"\"";

        var result = Parse(WithLine(14, Text));

        result.ShouldHaveErrorAt(14, Col(Text, "\"\""), "templates.ctrlable-pro.haos_version", "needs haos_version");
    }

    [Fact]
    public void Duplicate_template_name_is_reported_at_the_second_occurrence()
    {
        var result = Parse(WithAppended(
            "  zwavejs:",
            "    kind: lxc",
            "    builder: ct/zwave-js-ui.sh",
            "    vmid: 9010",
            "    resources: { cpu: 2, ram: 2048, disk: 8 }"));

        result.ShouldHaveErrorAt(47, 3, "templates.zwavejs", "duplicate key 'zwavejs'", "first defined at line 18");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void Duplicate_key_inside_a_template_is_reported_and_the_rest_still_checked()
    {
        var result = Parse(With((26, "      cpu: 3"), (33, "    portainer: sure")));

        result.ShouldHaveErrorAt(26, 7, "templates.zwavejs.resources.cpu", "duplicate key 'cpu'", "first defined at line 25");
        result.ShouldHaveErrorAt(33, 16, "templates.docker-portainer.portainer", "'sure'");
    }

    [Fact]
    public void Yaml_syntax_error_is_one_error_at_the_parser_position()
    {
        // An unclosed flow mapping: the parser notices at the next line's key.
        var result = Parse(WithLine(17, "    resources: { cpu: 2, ram: 4096, disk: 32"));

        var error = result.Errors.Should().ContainSingle().Subject;
        result.Manifest.Should().BeNull();
        error.File.Should().Be(FileName);
        error.Message.Should().StartWith("invalid YAML: ");
        error.Line.Should().Be(18);
        error.Path.Should().StartWith("templates.ctrlable-pro.resources");
    }

    [Fact]
    public void Bad_indentation_is_a_syntax_error_with_the_nearest_path()
    {
        var result = Parse(WithLine(21, "   vmid: 9001"));

        var error = result.Errors.Should().ContainSingle().Subject;
        error.Message.Should().StartWith("invalid YAML: ");
        error.Line.Should().Be(21);
        error.Path.Should().StartWith("templates.zwavejs");
    }

    [Fact]
    public void Alias_to_an_unknown_anchor_is_a_syntax_error()
    {
        const string Text = "    resources: *nowhere";

        var result = Parse(WithLine(46, Text));

        result.ShouldHaveErrorAt(46, Col(Text, "*nowhere"), "templates.freepbx.resources", "invalid YAML", "'*nowhere'");
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n")]
    public void Empty_document_is_one_error(string yaml)
    {
        var result = Parse(yaml);

        var error = result.Errors.Should().ContainSingle().Subject;
        error.Path.Should().Be("");
        error.Message.Should().Contain("the file is empty");
        result.Manifest.Should().BeNull();
    }

    [Fact]
    public void Complex_key_is_rejected_and_the_rest_still_read()
    {
        var result = Parse(ManifestYaml.Valid.Replace("decisions:", "? [a, b]\n: c\ndecisions:", StringComparison.Ordinal));

        result.ShouldHaveErrorAt(5, 3, "", "a key must be text, not a list");
        result.Errors.Should().ContainSingle();
    }

    [Fact]
    public void Second_document_is_rejected()
    {
        var result = Parse(Valid + "---\nrelease: \"2026.07\"\n");

        result.ShouldHaveErrorAt(47, 1, "", "exactly one YAML document");
    }

    [Fact]
    public void Deep_nesting_is_an_error_not_a_crash()
    {
        var yaml = "release: " + new string('[', 10_000) + new string(']', 10_000) + "\n";

        var result = Parse(yaml);

        result.Errors.Should().ContainSingle().Which.Message.Should().Contain("nesting deeper than");
    }
}
