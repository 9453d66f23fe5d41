using Ctrlable.Provisioner.Manifest;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>
/// A valid manifest whose line numbers the tests rely on, plus helpers to break one line at a time.
/// Line numbers are 1-based, like the parser's.
/// </summary>
internal static class ManifestYaml
{
    public const string FileName = "releases/2026.06.yaml";

    private static readonly string[] BaseLines =
    [
        /* 01 */ "release: \"2026.06\"",
        /* 02 */ "community_scripts_ref: \"2026-05-30\"",
        /* 03 */ "community_scripts_commit: \"dc355d07bff60c8e7bd3263a9c663c391c91ad89\"",
        /* 04 */ "proxmox_min_version: \"8.2\"",
        /* 05 */ "decisions:",
        /* 06 */ "  frigate_placement: separate",
        /* 07 */ "  freepbx_kind: lxc",
        /* 08 */ "  haos_uuid_policy: regenerate",
        /* 09 */ "templates:",
        /* 10 */ "  ctrlable-pro:",
        /* 11 */ "    kind: vm",
        /* 12 */ "    builder: vm/haos-vm.sh",
        /* 13 */ "    vmid: 9000",
        /* 14 */ "    haos_version: \"15.1\"",
        /* 15 */ "    rebrand: true",
        /* 16 */ "    base_backup: \"ctrlable-base-2026.06.tar\"",
        /* 17 */ "    resources: { cpu: 2, ram: 4096, disk: 32 }",
        /* 18 */ "  zwavejs:",
        /* 19 */ "    kind: lxc",
        /* 20 */ "    builder: ct/zwave-js-ui.sh",
        /* 21 */ "    vmid: 9001",
        /* 22 */ "    app_version: \"9.x\"",
        /* 23 */ "    os: { distro: debian, version: \"12\" }",
        /* 24 */ "    resources:",
        /* 25 */ "      cpu: 2",
        /* 26 */ "      ram: 2048",
        /* 27 */ "      disk: 8",
        /* 28 */ "    unprivileged: true",
        /* 29 */ "  docker-portainer:",
        /* 30 */ "    kind: lxc",
        /* 31 */ "    builder: ct/docker.sh",
        /* 32 */ "    vmid: 9003",
        /* 33 */ "    portainer: true",
        /* 34 */ "    resources: { cpu: 4, ram: 4096, disk: 20 }",
        /* 35 */ "    unprivileged: false",
        /* 36 */ "  frigate:",
        /* 37 */ "    kind: lxc",
        /* 38 */ "    builder: ct/frigate.sh",
        /* 39 */ "    vmid: 9004",
        /* 40 */ "    resources: { cpu: 4, ram: 4096, disk: 32 }",
        /* 41 */ "    unprivileged: false",
        /* 42 */ "  freepbx:",
        /* 43 */ "    kind: lxc",
        /* 44 */ "    builder: ct/freepbx.sh",
        /* 45 */ "    vmid: 9005",
        /* 46 */ "    resources: { cpu: 2, ram: 2048, disk: 16 }",
    ];

    public static string Valid => Join(BaseLines);

    /// <summary>The base manifest with line <paramref name="line"/> replaced (a "#" comment removes it without shifting lines).</summary>
    public static string WithLine(int line, string text) => With((line, text));

    public static string With(params (int Line, string Text)[] replacements)
    {
        var lines = BaseLines.ToArray();
        foreach (var (line, text) in replacements)
        {
            lines[line - 1] = text;
        }

        return Join(lines);
    }

    /// <summary>The base manifest with <paramref name="extra"/> lines appended after line 46.</summary>
    public static string WithAppended(params string[] extra) => Join([.. BaseLines, .. extra]);

    /// <summary>1-based column of the first occurrence of <paramref name="token"/> in <paramref name="line"/>.</summary>
    public static int Col(string line, string token)
    {
        var index = line.IndexOf(token, StringComparison.Ordinal);
        if (index < 0)
        {
            throw new ArgumentException($"'{token}' does not occur in '{line}'", nameof(token));
        }

        return index + 1;
    }

    public static ManifestParseResult Parse(string yaml) => ManifestParser.Parse(FileName, yaml);

    private static string Join(IEnumerable<string> lines) => string.Join('\n', lines) + "\n";
}

internal static class ManifestAssertions
{
    /// <summary>Asserts exactly one error at <paramref name="path"/>, at the given position, whose message mentions every fragment.</summary>
    public static ManifestError ShouldHaveErrorAt(
        this ManifestParseResult result, int line, int column, string path, params string[] messageFragments)
    {
        result.IsValid.Should().BeFalse();
        result.Manifest.Should().BeNull();
        var error = result.Errors.Should().ContainSingle(e => e.Path == path, $"one error at '{path}' among: {Describe(result.Errors)}").Subject;
        error.File.Should().Be(ManifestYaml.FileName);
        error.Line.Should().Be(line, error.ToString());
        error.Column.Should().Be(column, error.ToString());
        foreach (var fragment in messageFragments)
        {
            error.Message.Should().Contain(fragment);
        }

        return error;
    }

    public static string Describe(IEnumerable<ManifestError> errors) =>
        string.Join(" | ", errors.Select(e => e.ToString()));
}

internal static class RepoRoot
{
    /// <summary>Walks up from the test binaries to the folder holding Ctrlable.Provisioner.sln.</summary>
    public static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ctrlable.Provisioner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Ctrlable.Provisioner.sln not found above " + AppContext.BaseDirectory);
    }
}
