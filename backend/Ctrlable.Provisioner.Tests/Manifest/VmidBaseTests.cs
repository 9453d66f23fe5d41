using Ctrlable.Provisioner.Manifest;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>
/// vmid_base (top level, or in the first template as the handoff spec wrote it) gives a template without a vmid
/// base + its place in the file; a collision with an explicit vmid, a second base or a base in a later template is an
/// error at its line.
/// </summary>
public sealed class VmidBaseTests
{
    private const string File = "releases/2026.06.yaml";

    /// <summary>A release (line 1-4), then each template on 5 lines: name, kind, builder, resources, and the extra line given.</summary>
    private static string Release(string top, params (string Name, string Extra)[] templates) =>
        "release: \"2026.06\"\ncommunity_scripts_ref: \"2026-05-30\"\ncommunity_scripts_commit: \"dc355d07bff60c8e7bd3263a9c663c391c91ad89\"\n"
        + $"proxmox_min_version: \"8.2\"\n{top}\ntemplates:\n"
        + string.Concat(templates.Select(t =>
            $"  {t.Name}:\n    kind: lxc\n    builder: ct/docker.sh\n    resources: {{ cpu: 1, ram: 512, disk: 4 }}\n    {t.Extra}\n"));

    // Line of template i's name (0-based) and of its extra line.
    private static int NameLine(int i) => 7 + (5 * i);

    private static int ExtraLine(int i) => NameLine(i) + 4;

    [Fact]
    public void Templates_without_a_vmid_get_the_base_plus_their_place_in_the_file()
    {
        var result = ManifestParser.Parse(File, Release("vmid_base: 9100", ("a", "# none"), ("b", "vmid: 9200"), ("c", "# none")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Templates.Select(t => (t.Name, t.Vmid)).Should().Equal(("a", 9100), ("b", 9200), ("c", 9102));
    }

    [Fact]
    public void In_the_first_template_vmid_base_is_the_releases_base()
    {
        var result = ManifestParser.Parse(File, Release("# no top-level base", ("a", "vmid_base: 9000"), ("b", "# none"), ("c", "# none")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        result.Manifest!.Templates.Select(t => t.Vmid).Should().Equal(9000, 9001, 9002);
    }

    [Fact]
    public void A_counted_vmid_that_an_earlier_template_sets_is_an_error_at_the_later_template()
    {
        var result = ManifestParser.Parse(File, Release("vmid_base: 9000", ("a", "# none"), ("b", "vmid: 9002"), ("c", "# none")));

        var error = result.Errors.Should().ContainSingle().Subject;
        error.Should().BeEquivalentTo(new { Line = NameLine(2), Column = 3, Path = "templates.c.vmid" });
        error.Message.Should().Be("vmid 9002 (vmid_base 9000 + 2, its place in the file) is already used by template 'b'; give this template its own vmid or move the other one");
    }

    [Fact]
    public void An_explicit_vmid_that_a_counted_one_already_took_is_an_error_at_its_line()
    {
        var result = ManifestParser.Parse(File, Release("vmid_base: 9000", ("a", "# none"), ("b", "vmid: 9000")));

        var error = result.Errors.Should().ContainSingle().Subject;
        error.Should().BeEquivalentTo(new { Line = ExtraLine(1), Column = 11, Path = "templates.b.vmid", Message = "vmid 9000 is already used by template 'a'" });
    }

    [Fact]
    public void Vmid_base_in_a_later_template_is_an_error_because_it_would_read_as_from_here_on()
    {
        var result = ManifestParser.Parse(File, Release("vmid_base: 9000", ("a", "# none"), ("b", "vmid_base: 9500")));

        var error = result.Errors.Should().ContainSingle().Subject;
        error.Should().BeEquivalentTo(new { Line = ExtraLine(1), Column = 16, Path = "templates.b.vmid_base" });
        error.Message.Should().Contain("belongs at the top level (or in the first template)").And.Contain("from here on");
    }

    [Fact]
    public void Vmid_base_at_the_top_and_in_the_first_template_is_an_error_at_the_second()
    {
        var result = ManifestParser.Parse(File, Release("vmid_base: 9000", ("a", "vmid_base: 9000"), ("b", "# none")));

        var error = result.Errors.Should().ContainSingle().Subject;
        error.Should().BeEquivalentTo(new { Line = ExtraLine(0), Column = 16, Path = "templates.a.vmid_base" });
        error.Message.Should().Be("vmid_base is set twice (also at vmid_base, line 5): the release has one base; keep one");
    }

    [Fact]
    public void A_counted_vmid_beyond_what_Proxmox_accepts_is_an_error()
    {
        var result = ManifestParser.Parse(File, Release("vmid_base: 999999999", ("a", "# none"), ("b", "# none")));

        var error = result.Errors.Should().ContainSingle().Subject;
        error.Should().BeEquivalentTo(new { Line = NameLine(1), Path = "templates.b.vmid" });
        error.Message.Should().StartWith("vmid 1000000000 (vmid_base 999999999 + 1) is outside 100..999999999");
    }

    [Fact]
    public void Without_a_base_a_template_without_vmid_is_told_about_both()
    {
        var result = ManifestParser.Parse(File, Release("# no base", ("a", "vmid: 9000"), ("b", "# none")));

        var error = result.Errors.Should().ContainSingle().Subject;
        error.Should().BeEquivalentTo(new { Line = NameLine(1), Column = 3, Path = "templates.b.vmid" });
        error.Message.Should().StartWith("missing required key 'vmid' (or give the release a vmid_base");
    }
}
