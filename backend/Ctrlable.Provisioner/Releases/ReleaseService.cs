using System.ComponentModel;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Releases;

public sealed record ReleaseSummary(
    string Name,
    string File,
    bool Valid,
    bool Active,
    string? CommunityScriptsRef,
    string? ProxmoxMinVersion,
    int TemplateCount,
    IReadOnlyList<ManifestError> Errors,
    [property: Description("What an operator should know that does not make the manifest invalid (e.g. a privileged container), located like errors.")]
    IReadOnlyList<ManifestError> Warnings);

public sealed record ReleaseDetail(
    string Name,
    string File,
    bool Valid,
    bool Active,
    IReadOnlyList<ManifestError> Errors,
    [property: Description("What an operator should know that does not make the manifest invalid (e.g. a privileged container), located like errors.")]
    IReadOnlyList<ManifestError> Warnings,
    ReleaseManifest? Manifest,
    IReadOnlyList<TemplateState> Templates);

/// <summary>A manifest template and whether this host has built it yet.</summary>
public sealed record TemplateState(
    string Name,
    TemplateKind Kind,
    string Builder,
    int Vmid,
    string? AppVersion,
    ResourceSpec Resources,
    TemplateBuildState State,
    string? Node,
    string? BuilderCommit,
    DateTimeOffset? BuiltAt);

public enum TemplateBuildState { NotBuilt, Built }

/// <summary>Joins the release files on disk with what the state database knows about them.</summary>
public sealed class ReleaseService(ReleaseCatalog catalog, ReleaseRepository releases)
{
    public async Task<IReadOnlyList<ReleaseSummary>> ListAsync(CancellationToken ct)
    {
        var active = await releases.GetActiveNameAsync(ct);
        return [.. catalog.LoadAll().Select(f => new ReleaseSummary(
            f.Name,
            DisplayPath(f),
            f.IsValid,
            f.Name == active,
            f.Manifest?.CommunityScriptsRef,
            f.Manifest?.ProxmoxMinVersion,
            f.Manifest?.Templates.Count ?? 0,
            f.Errors,
            f.Warnings))];
    }

    public async Task<ReleaseDetail?> GetAsync(string name, CancellationToken ct)
    {
        var file = catalog.Find(name);
        if (file is null)
        {
            return null;
        }

        var active = await releases.GetActiveNameAsync(ct);
        var built = (await releases.ListTemplatesAsync(file.Name, ct)).ToDictionary(t => t.Name);
        var templates = file.Manifest?.Templates.Select(t =>
        {
            built.TryGetValue(t.Name, out var row);
            return new TemplateState(
                t.Name, t.Kind, t.Builder, t.Vmid, row?.AppVersion ?? t.AppVersion, t.Resources,
                row is null ? TemplateBuildState.NotBuilt : TemplateBuildState.Built,
                row?.Node, row?.BuilderCommit, row?.BuiltAt);
        }).ToList() ?? [];

        return new ReleaseDetail(file.Name, DisplayPath(file), file.IsValid, file.Name == active, file.Errors, file.Warnings, file.Manifest, templates);
    }

    public ReleaseFile? FindFile(string name) => catalog.Find(name);

    /// <summary>"releases/2026.06.yaml": the form errors use, without the server's absolute path.</summary>
    public static string DisplayPath(ReleaseFile file) =>
        $"{Path.GetFileName(Path.GetDirectoryName(file.FilePath))}/{Path.GetFileName(file.FilePath)}";
}
