namespace Ctrlable.Provisioner.Manifest;

/// <summary>
/// One release file as found on disk. Name is the file's release value when that is well-formed,
/// otherwise the file name without ".yaml". Manifest can be set while IsValid is false when only
/// catalog-level checks failed (file name mismatch, duplicate release): always check IsValid. Warnings never make it invalid.
/// </summary>
public sealed record ReleaseFile(string Name, string FilePath, string Yaml, ReleaseManifest? Manifest, IReadOnlyList<ManifestError> Errors)
{
    public IReadOnlyList<ManifestError> Warnings { get; init; } = [];

    public bool IsValid => Manifest is not null && Errors.Count == 0;
}

/// <summary>
/// The releases/*.yaml files of one directory. Reads the disk on every call, so an edited file is
/// seen at once. A broken or unreadable file never throws: it is returned invalid with its errors.
/// </summary>
public sealed class ReleaseCatalog
{
    private const string Extension = ".yaml";

    private readonly string directory;

    public ReleaseCatalog(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        this.directory = directory;
    }

    /// <summary>Every *.yaml file, sorted by Name; empty when the directory does not exist.</summary>
    public IReadOnlyList<ReleaseFile> LoadAll()
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        // Errors name files like "releases/2026.06.yaml": the directory's last segment plus the file name.
        var folder = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        var loaded = Directory.EnumerateFiles(directory, "*" + Extension, SearchOption.TopDirectoryOnly)
            .Where(path => path.EndsWith(Extension, StringComparison.Ordinal)) // guard against platform glob quirks
            .Select(path => Load(folder, path))
            .ToList();

        CheckFileNames(loaded);
        CheckDuplicateReleases(loaded);

        return [.. loaded
            .Select(l => new ReleaseFile(
                l.Release ?? l.Stem,
                l.FilePath,
                l.Yaml,
                l.Result.Manifest,
                [.. l.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column)])
            { Warnings = l.Result.Warnings })
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ThenBy(f => f.FilePath, StringComparer.Ordinal)];
    }

    /// <summary>The file whose Name is <paramref name="name"/> (valid or not), or null.</summary>
    public ReleaseFile? Find(string name) =>
        LoadAll().FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.Ordinal));

    private static LoadedFile Load(string folder, string path)
    {
        var displayName = folder + "/" + Path.GetFileName(path);
        var stem = Path.GetFileNameWithoutExtension(path);
        string yaml;
        try
        {
            yaml = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var unreadable = new ManifestError(displayName, 1, 1, "", "cannot read the file: " + ex.Message);
            return new LoadedFile(path, displayName, stem, "", new ManifestParseResult(null, [unreadable]), null, new Position(1, 1));
        }

        var parsed = ManifestParser.ParseDetailed(displayName, yaml);
        return new LoadedFile(path, displayName, stem, yaml, parsed.Result, parsed.Release, parsed.ReleaseAt);
    }

    // The file name is how people and the build script find a release; it must say what is inside.
    private static void CheckFileNames(List<LoadedFile> files)
    {
        foreach (var file in files.Where(f => f.Release is not null && f.Release != f.Stem))
        {
            file.AddError("release", $"release '{file.Release}' does not match the file name '{file.Stem}{Extension}'; rename the file to '{file.Release}{Extension}'");
        }
    }

    // Two files claiming one release make "build 2026.06" ambiguous, so neither is trusted.
    private static void CheckDuplicateReleases(List<LoadedFile> files)
    {
        foreach (var group in files.Where(f => f.Release is not null).GroupBy(f => f.Release, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            foreach (var file in group)
            {
                var others = string.Join(", ", group.Where(other => !ReferenceEquals(other, file)).Select(other => other.DisplayName).Order(StringComparer.Ordinal));
                file.AddError("release", $"release '{file.Release}' is also declared by {others}");
            }
        }
    }

    /// <summary>A file while the catalog checks it; the cross-file checks append to Errors.</summary>
    private sealed class LoadedFile(
        string filePath, string displayName, string stem, string yaml, ManifestParseResult result, string? release, Position releaseAt)
    {
        public string FilePath { get; } = filePath;
        public string DisplayName { get; } = displayName;
        public string Stem { get; } = stem;
        public string Yaml { get; } = yaml;
        public ManifestParseResult Result { get; } = result;
        public string? Release { get; } = release;
        public List<ManifestError> Errors { get; } = [.. result.Errors];

        public void AddError(string path, string message) =>
            Errors.Add(new ManifestError(DisplayName, releaseAt.Line, releaseAt.Column, path, message));
    }
}
