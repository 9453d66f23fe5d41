using static Ctrlable.Provisioner.Tests.Manifest.ManifestYaml;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>The ctrlable-pro template's base backup: a plain file name and, optionally, its SHA-256.</summary>
public sealed class BaseBackupManifestTests
{
    private const string Sha = "4f2b0c7d9e8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c";

    [Fact]
    public void A_base_backup_checksum_is_read_with_the_file()
    {
        var result = Parse(With((16, "    base_backup: \"ctrlable-base-2026.06.tar\"\n    base_backup_sha256: \"" + Sha + "\"")));

        result.Errors.Should().BeEmpty(ManifestAssertions.Describe(result.Errors));
        var pro = result.Manifest!.Templates.Single(t => t.Name == "ctrlable-pro");
        pro.BaseBackup.Should().Be("ctrlable-base-2026.06.tar");
        pro.BaseBackupSha256.Should().Be(Sha);
    }

    [Fact]
    public void A_malformed_checksum_is_reported_at_its_line()
    {
        const string Bad = "    base_backup_sha256: \"ABC\"";
        var result = Parse(With((16, "    base_backup: \"ctrlable-base-2026.06.tar\"\n" + Bad)));

        result.ShouldHaveErrorAt(17, Col(Bad, "\"ABC\""), "templates.ctrlable-pro.base_backup_sha256", "'ABC' is not a SHA-256");
    }

    [Fact]
    public void A_base_backup_path_is_refused()
    {
        const string Bad = "    base_backup: \"../etc/passwd\"";
        var result = Parse(WithLine(16, Bad));

        result.ShouldHaveErrorAt(16, Col(Bad, "\"../etc/passwd\""), "templates.ctrlable-pro.base_backup", "not a plain file name");
    }
}
