using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Tests.Manifest;
using static Ctrlable.Provisioner.Tests.Manifest.ManifestYaml;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>The wrapper's progress lines, and the manifest's HAOS checksum the build verifies.</summary>
public sealed class ProgressLineTests
{
    [Fact]
    public void A_progress_line_has_a_kind_fields_and_free_text_last()
    {
        var line = ProgressLine.Parse("::ctrlable step template=zwavejs n=2 of=7 text=Running ct/zwave-js-ui.sh (community-scripts 2026-05-30)")!;

        line.Kind.Should().Be(ProgressLine.Step);
        line["template"].Should().Be("zwavejs");
        line.Int("n").Should().Be(2);
        line.Int("of").Should().Be(7);
        line.Text.Should().Be("Running ct/zwave-js-ui.sh (community-scripts 2026-05-30)");
    }

    [Fact]
    public void The_haos_vm_s_template_done_names_where_its_image_digest_came_from()
    {
        var line = ProgressLine.Parse("::ctrlable template-done template=ctrlable-pro kind=vm vmid=9000 node=pve1 commit=dc355d07bff60c8e7bd3263a9c663c391c91ad89 app_version=15.1 haos_version=15.1 rebrand=1 base_backup=ctrlable-base-2026.06.tar haos_digest=github")!;

        line.Kind.Should().Be(ProgressLine.TemplateDone);
        line["haos_digest"].Should().Be("github");
        line["base_backup"].Should().Be("ctrlable-base-2026.06.tar");
    }

    [Fact]
    public void Check_lines_carry_their_verdict_as_free_text()
    {
        var problem = ProgressLine.Parse("::ctrlable check-problem text=storage local-lvm has 3 GiB free; the templates need 40 GiB")!;
        problem.Kind.Should().Be(ProgressLine.CheckProblem);
        problem.Text.Should().Be("storage local-lvm has 3 GiB free; the templates need 40 GiB");
        ProgressLine.Parse("::ctrlable check-ok text=qemu-img present")!.Kind.Should().Be(ProgressLine.CheckOk);
        ProgressLine.Parse("::ctrlable check-done problems=1")!.Int("problems").Should().Be(1);
    }

    [Theory]
    [InlineData("[zwavejs] ::ctrlable template-done template=zwavejs vmid=9101")]
    [InlineData(" ::ctrlable template-done template=zwavejs")]
    [InlineData("::ctrlable")]
    [InlineData("::ctrlable Template-Done template=x")]
    [InlineData("::ctrlable template-done template")]
    [InlineData("::ctrlable template-done =x")]
    [InlineData("::ctrlable template-done Template=x")]
    [InlineData("ordinary output")]
    public void Builder_output_and_malformed_lines_are_not_progress(string text) =>
        ProgressLine.Parse(text).Should().BeNull();

    [Fact]
    public void Haos_sha256_is_a_lowercase_sha256_and_only_for_the_haos_builder()
    {
        const string Sha = "0f4e6c6a1b1fd7d8d8e7e1c1a1b1c1d1e1f10111213141516171819202122232";
        Parse(WithLine(15, $"    haos_sha256: \"{Sha}\"")).Manifest!.Templates[0].HaosSha256.Should().Be(Sha);

        const string Bad = "    haos_sha256: \"ABC\"";
        Parse(WithLine(15, Bad)).ShouldHaveErrorAt(15, Col(Bad, "\"ABC\""), "templates.ctrlable-pro.haos_sha256", "is not a SHA-256");

        var onLxc = $"    haos_sha256: \"{Sha}\"";
        Parse(WithLine(28, onLxc)).ShouldHaveErrorAt(28, Col(onLxc, $"\"{Sha}\""), "templates.zwavejs.haos_sha256", "only applies to templates built by vm/haos-vm.sh");
    }
}
