using Ctrlable.Provisioner.Manifest;

namespace Ctrlable.Provisioner.Tests.Manifest;

public sealed class ReleaseCatalogTests : IDisposable
{
    // A unique parent folder, with a "releases" folder inside, so error file names read "releases/<file>.yaml".
    private readonly string root = Path.Combine(Path.GetTempPath(), "ctrlable-catalog-" + Guid.NewGuid().ToString("N"));
    private readonly string releases;

    public ReleaseCatalogTests()
    {
        releases = Path.Combine(root, "releases");
        Directory.CreateDirectory(releases);
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void Valid_and_broken_files_are_both_listed_sorted_by_name()
    {
        Write("2026.07.yaml", ManifestYaml.Valid.Replace("release: \"2026.06\"", "release: \"2026.07\"", StringComparison.Ordinal));
        Write("2026.06.yaml", ManifestYaml.WithLine(25, "      cpu: two"));

        var files = new ReleaseCatalog(releases).LoadAll();

        files.Select(f => f.Name).Should().Equal("2026.06", "2026.07");
        var broken = files[0];
        broken.IsValid.Should().BeFalse();
        broken.Manifest.Should().BeNull();
        broken.FilePath.Should().Be(Path.Combine(releases, "2026.06.yaml"));
        var error = broken.Errors.Should().ContainSingle().Subject;
        error.Should().Be(new ManifestError("releases/2026.06.yaml", 25, 12, "templates.zwavejs.resources.cpu", "expected an integer, got 'two'"));

        var valid = files[1];
        valid.IsValid.Should().BeTrue();
        valid.Errors.Should().BeEmpty();
        valid.Manifest!.Release.Should().Be("2026.07");
        valid.Yaml.Should().Contain("release: \"2026.07\"");
    }

    [Fact]
    public void Binary_empty_and_unparseable_files_come_back_invalid_without_throwing()
    {
        File.WriteAllBytes(Path.Combine(releases, "garbage.yaml"), [0x00, 0xFF, 0xFE, 0x1B, 0x7F, 0x80, 0x00, 0x09, 0x3A, 0x5B]);
        Write("empty.yaml", "");
        Write("syntax.yaml", "release: [\n");

        var files = new ReleaseCatalog(releases).LoadAll();

        files.Select(f => f.Name).Should().Equal("empty", "garbage", "syntax");
        files.Should().AllSatisfy(f =>
        {
            f.IsValid.Should().BeFalse();
            f.Manifest.Should().BeNull();
            f.Errors.Should().NotBeEmpty();
            f.Errors.Should().AllSatisfy(e => e.File.Should().Be($"releases/{f.Name}.yaml"));
        });
        files[0].Errors.Should().ContainSingle().Which.Message.Should().Contain("the file is empty");
    }

    [Fact]
    public void Name_falls_back_to_the_file_name_when_the_release_value_is_unusable()
    {
        Write("2026.08.yaml", ManifestYaml.WithLine(1, "release: next"));

        var file = new ReleaseCatalog(releases).LoadAll().Should().ContainSingle().Subject;

        file.Name.Should().Be("2026.08");
        file.Errors.Should().ContainSingle().Which.Path.Should().Be("release");
    }

    [Fact]
    public void File_name_must_match_the_release()
    {
        Write("2026.07.yaml", ManifestYaml.Valid); // declares 2026.06

        var file = new ReleaseCatalog(releases).LoadAll().Should().ContainSingle().Subject;

        file.Name.Should().Be("2026.06");
        file.IsValid.Should().BeFalse();
        file.Manifest.Should().NotBeNull("the content itself is fine; only the catalog check failed");
        var error = file.Errors.Should().ContainSingle().Subject;
        error.File.Should().Be("releases/2026.07.yaml");
        error.Line.Should().Be(1);
        error.Column.Should().Be(10);
        error.Path.Should().Be("release");
        error.Message.Should().Contain("release '2026.06' does not match the file name '2026.07.yaml'").And.Contain("'2026.06.yaml'");
    }

    [Fact]
    public void Two_files_declaring_the_same_release_are_both_invalid()
    {
        Write("2026.06.yaml", ManifestYaml.Valid);
        Write("copy.yaml", "# a copy\n" + ManifestYaml.Valid);

        var files = new ReleaseCatalog(releases).LoadAll();

        files.Should().HaveCount(2).And.OnlyContain(f => f.Name == "2026.06" && !f.IsValid);
        var original = files.Single(f => f.FilePath.EndsWith("2026.06.yaml", StringComparison.Ordinal));
        original.Errors.Should().ContainSingle().Which.Should().Be(new ManifestError(
            "releases/2026.06.yaml", 1, 10, "release", "release '2026.06' is also declared by releases/copy.yaml"));

        var copy = files.Single(f => f.FilePath.EndsWith("copy.yaml", StringComparison.Ordinal));
        copy.Errors.Select(e => (e.Line, e.Path)).Should().Equal((2, "release"), (2, "release"));
        copy.Errors.Should().Contain(e => e.Message.Contains("also declared by releases/2026.06.yaml", StringComparison.Ordinal));
        copy.Errors.Should().Contain(e => e.Message.Contains("does not match the file name 'copy.yaml'", StringComparison.Ordinal));
    }

    [Fact]
    public void Find_returns_the_release_by_name()
    {
        Write("2026.06.yaml", ManifestYaml.Valid);
        var catalog = new ReleaseCatalog(releases);

        catalog.Find("2026.06")!.IsValid.Should().BeTrue();
        catalog.Find("2026.05").Should().BeNull();
    }

    [Fact]
    public void Only_yaml_files_directly_in_the_directory_are_loaded()
    {
        Write("2026.06.yaml", ManifestYaml.Valid);
        Write("README.md", "# releases");
        Write("2026.07.yml", "not: loaded");
        Directory.CreateDirectory(Path.Combine(releases, "old"));
        Write(Path.Combine("old", "2025.12.yaml"), ManifestYaml.Valid);

        var files = new ReleaseCatalog(releases).LoadAll();

        files.Select(f => f.Name).Should().Equal("2026.06");
    }

    [Fact]
    public void Missing_directory_is_an_empty_catalog()
    {
        new ReleaseCatalog(Path.Combine(root, "nope")).LoadAll().Should().BeEmpty();
    }

    [Fact]
    public void Changes_on_disk_are_seen_on_the_next_load()
    {
        var catalog = new ReleaseCatalog(releases);
        Write("2026.06.yaml", ManifestYaml.WithLine(25, "      cpu: two"));
        catalog.Find("2026.06")!.IsValid.Should().BeFalse();

        Write("2026.06.yaml", ManifestYaml.Valid);

        catalog.Find("2026.06")!.IsValid.Should().BeTrue();
    }

    [Fact]
    public void The_repository_releases_directory_is_valid()
    {
        var files = new ReleaseCatalog(Path.Combine(RepoRoot.Find(), "releases")).LoadAll();

        files.Should().Contain(f => f.Name == "2026.06");
        files.Should().AllSatisfy(f => f.Errors.Should().BeEmpty(ManifestAssertions.Describe(f.Errors)));
    }

    private void Write(string name, string content) => File.WriteAllText(Path.Combine(releases, name), content);
}
