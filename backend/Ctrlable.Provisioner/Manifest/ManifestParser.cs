using FluentValidation;

namespace Ctrlable.Provisioner.Manifest;

/// <summary>
/// Parses a release manifest in three steps: YAML text to a positioned tree (syntax, duplicate
/// keys), tree to a draft (known keys, types, required keys), draft to semantic checks
/// (FluentValidation). All errors are collected, located and sorted by position.
/// </summary>
public static class ManifestParser
{
    private static readonly ManifestDraftValidator Validator = new();

    /// <summary>Parses <paramref name="yaml"/>; errors name the file as <paramref name="fileName"/>, e.g. "releases/2026.06.yaml".</summary>
    public static ManifestParseResult Parse(string fileName, string yaml) => ParseDetailed(fileName, yaml).Result;

    /// <summary>The parse result plus what the catalog needs even from an invalid file: the release name, if well-formed, and where it is.</summary>
    internal static DetailedParse ParseDetailed(string fileName, string yaml)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        ArgumentNullException.ThrowIfNull(yaml);

        // A byte-order mark read as text would become part of the first key; it is not content.
        yaml = yaml.TrimStart('\uFEFF');
        var errors = new List<ManifestError>();
        var root = YamlTree.Load(fileName, yaml, errors);
        if (root is null && errors.Count > 0)
        {
            return new DetailedParse(new ManifestParseResult(null, errors), null, new Position(1, 1)); // YAML syntax error
        }

        var reader = new ManifestReader(fileName, errors);
        var draft = reader.Read(root);
        var warnings = new List<ManifestError>();
        if (draft is not null)
        {
            foreach (var failure in Validator.Validate(draft).Errors)
            {
                // Every rule names its YAML path in CustomState; PropertyName is only a fallback.
                var (path, locatedAt) = failure.CustomState switch
                {
                    string p => (p, p),
                    YamlLocation location => (location.Path, location.LocatedAt),
                    _ => (failure.PropertyName, failure.PropertyName),
                };
                var at = reader.PositionOf(locatedAt);
                var problem = new ManifestError(fileName, at.Line, at.Column, path, failure.ErrorMessage);
                (failure.Severity == Severity.Warning ? warnings : errors).Add(problem);
            }
        }

        var sorted = errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList();
        var manifest = draft is not null && sorted.Count == 0 ? Build(draft) : null;
        var release = draft?.Release is { } name && ManifestRules.IsReleaseName(name) ? name : null;
        var result = new ManifestParseResult(manifest, sorted) { Warnings = [.. warnings.OrderBy(w => w.Line).ThenBy(w => w.Column)] };
        return new DetailedParse(result, release, reader.PositionOf("release"));
    }

    // Only called without errors, so every required field is set; a null here is a bug in the reader.
    private static ReleaseManifest Build(ManifestDraft draft) => new(
        Text(draft.Release),
        Text(draft.CommunityScriptsRef),
        draft.CommunityScriptsCommit,
        Text(draft.ProxmoxMinVersion),
        new ReleaseDecisions(Value(draft.FrigatePlacement), Value(draft.FreePbxKind), Value(draft.HaosUuidPolicy)),
        [.. draft.Templates.Select(t => new TemplateSpec(
            t.Name,
            Value(t.Kind),
            Text(t.Builder),
            Value(t.Vmid),
            t.AppVersion,
            new OsSpec(Text(t.Distro), Text(t.OsVersion)),
            new ResourceSpec(Value(t.Cpu), Value(t.RamMiB), Value(t.DiskGb)),
            Value(t.Unprivileged),
            Value(t.Portainer),
            t.HaosVersion,
            Value(t.Rebrand),
            t.BaseBackup,
            t.HaosSha256,
            t.BaseBackupSha256))]);

    private static string Text(string? value) =>
        value ?? throw new InvalidOperationException("A validated manifest draft is missing a required value.");

    private static T Value<T>(T? value) where T : struct =>
        value ?? throw new InvalidOperationException("A validated manifest draft is missing a required value.");
}

internal sealed record DetailedParse(ManifestParseResult Result, string? Release, Position ReleaseAt);
