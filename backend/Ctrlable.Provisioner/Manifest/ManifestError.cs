namespace Ctrlable.Provisioner.Manifest;

/// <summary>
/// One problem in a release file (an error, or a warning in a Warnings list), located like a compiler diagnostic so an operator can jump to it:
/// <c>releases/2026.06.yaml:12:5: templates.zwavejs.resouces: unknown key 'resouces' (did you mean 'resources'?)</c>.
/// Line and column are 1-based; Path is the dotted YAML path ("" for the document itself).
/// </summary>
public sealed record ManifestError(string File, int Line, int Column, string Path, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Path}: {Message}";
}

/// <summary>
/// Manifest is set only when the file passed every check; Errors is sorted by position. Warnings (same shape, sorted
/// too) never make a file invalid: they name what an operator should know, e.g. a privileged container.
/// </summary>
public sealed record ManifestParseResult(ReleaseManifest? Manifest, IReadOnlyList<ManifestError> Errors)
{
    public IReadOnlyList<ManifestError> Warnings { get; init; } = [];

    public bool IsValid => Manifest is not null && Errors.Count == 0;
}
