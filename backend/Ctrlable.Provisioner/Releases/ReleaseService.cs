using System.ComponentModel;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Releases;

public sealed record ReleaseSummary(
    string Name,
    string File,
    bool Valid,
    [property: Description("Deploys use this release: the release of the latest build that left at least one of its templates on this host. With templatesBuilt < templateCount it is partly built: the missing components cannot be deployed until they are built.")]
    bool Active,
    string? CommunityScriptsRef,
    string? ProxmoxMinVersion,
    int TemplateCount,
    IReadOnlyList<ManifestError> Errors,
    [property: Description("What an operator should know that does not make the manifest invalid (e.g. a privileged container), located like errors.")]
    IReadOnlyList<ManifestError> Warnings,
    [property: Description("How many of the manifest's templates are built on this host (deployable when the release is active).")]
    int TemplatesBuilt = 0);

public sealed record ReleaseDetail(
    string Name,
    string File,
    bool Valid,
    bool Active,
    IReadOnlyList<ManifestError> Errors,
    [property: Description("What an operator should know that does not make the manifest invalid (e.g. a privileged container), located like errors.")]
    IReadOnlyList<ManifestError> Warnings,
    ReleaseManifest? Manifest,
    IReadOnlyList<TemplateState> Templates,
    [property: Description("The release's Home Assistant base backup (what the manifest asks for, what is stored); null when no template takes one.")]
    BaseBackupStatus? BaseBackup = null);

/// <summary>A manifest template and whether this host has it: only a built template can be deployed.</summary>
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
    DateTimeOffset? BuiltAt,
    [property: Description("Why the template cannot be deployed (not built): e.g. \"build 12 failed: ct/frigate.sh failed with exit code 1 (see the log)\"; null when built.")]
    string? Reason = null,
    [property: Description("The build the reason comes from (failed it, or is building it now).")]
    long? BuildId = null,
    [property: Description("vm/haos-vm.sh only: where the built image's SHA-256 came from: 'manifest' (pinned haos_sha256) or 'github' (GitHub's release API at build time, not pinned in the manifest).")]
    string? HaosDigest = null);

/// <summary>
/// A template on this host. Wire: not-built (never built here), building (a running build has it), built (recorded:
/// deployable), failed (the latest build that had it failed it; see the reason).
/// </summary>
public enum TemplateBuildState { NotBuilt, Building, Built, Failed }

/// <summary>Joins the release files on disk with what the state database knows about them.</summary>
public sealed class ReleaseService(ReleaseCatalog catalog, ReleaseRepository releases, BuildRepository builds, BaseBackupStore baseBackups)
{
    // How far back the history is read for why a template is missing: older builds were superseded by these.
    private const int ReasonHistory = 50;

    public async Task<IReadOnlyList<ReleaseSummary>> ListAsync(CancellationToken ct)
    {
        var active = await releases.GetActiveNameAsync(ct);
        var built = (await releases.ListTemplateNamesAsync(ct)).ToLookup(t => t.Release, t => t.Name);
        return [.. catalog.LoadAll().Select(f => new ReleaseSummary(
            f.Name,
            DisplayPath(f),
            f.IsValid,
            f.Name == active,
            f.Manifest?.CommunityScriptsRef,
            f.Manifest?.ProxmoxMinVersion,
            f.Manifest?.Templates.Count ?? 0,
            f.Errors,
            f.Warnings,
            f.Manifest?.Templates.Count(t => built[f.Name].Contains(t.Name)) ?? 0))];
    }

    public async Task<ReleaseDetail?> GetAsync(string name, CancellationToken ct)
    {
        var file = catalog.Find(name);
        if (file is null)
        {
            return null;
        }

        var active = await releases.GetActiveNameAsync(ct);
        var templates = file.Manifest is { } manifest ? await TemplateStatesAsync(manifest, ct) : [];
        BaseBackupStatus? baseBackup = null;
        if (file.Manifest?.Templates.FirstOrDefault(t => t.BaseBackup is not null) is { } haos)
        {
            var target = new BaseBackupTarget(file.Manifest.Release, haos.BaseBackup!, haos.BaseBackupSha256, new BaseBackupNeeds(false));
            baseBackup = BaseBackupStatus.Of(target, await baseBackups.FindRecordAsync(file.Manifest.Release, ct), baseBackups.MaxBytes);
        }

        return new ReleaseDetail(file.Name, DisplayPath(file), file.IsValid, file.Name == active, file.Errors, file.Warnings, file.Manifest, templates, baseBackup);
    }

    /// <summary>
    /// The templates of <paramref name="release"/>'s manifest and whether each can be deployed here (with the reason when
    /// not); null when there is no valid manifest of that name.
    /// </summary>
    public async Task<IReadOnlyList<TemplateState>?> TemplateStatesAsync(string release, CancellationToken ct) =>
        catalog.Find(release) is { IsValid: true, Manifest: { } manifest } ? await TemplateStatesAsync(manifest, ct) : null;

    private async Task<IReadOnlyList<TemplateState>> TemplateStatesAsync(ReleaseManifest manifest, CancellationToken ct)
    {
        var built = (await releases.ListTemplatesAsync(manifest.Release, ct)).ToDictionary(t => t.Name);
        IReadOnlyList<BuildSummary>? history = null;
        var states = new List<TemplateState>();
        foreach (var t in manifest.Templates)
        {
            if (built.TryGetValue(t.Name, out var row))
            {
                states.Add(new TemplateState(t.Name, t.Kind, t.Builder, t.Vmid, row.AppVersion ?? t.AppVersion, t.Resources, TemplateBuildState.Built,
                    row.Node, row.BuilderCommit, row.BuiltAt, HaosDigest: row.HaosDigest));
                continue;
            }

            history ??= [.. (await builds.ListAsync(manifest.Release, ReasonHistory, ct)).Select(BuildRepository.ToSummary)];
            var (state, reason, buildId) = Missing(t.Name, history);
            states.Add(new TemplateState(t.Name, t.Kind, t.Builder, t.Vmid, t.AppVersion, t.Resources, state, null, null, null, reason, buildId));
        }

        return states;
    }

    /// <summary>Why a template is not built: the newest build that had it says (it is building it, or how it failed).</summary>
    internal static (TemplateBuildState State, string Reason, long? BuildId) Missing(string template, IReadOnlyList<BuildSummary> newestFirst)
    {
        foreach (var build in newestFirst)
        {
            if (build.Templates.FirstOrDefault(p => p.Name == template) is not { } progress)
            {
                continue;
            }

            if (build.State == BuildState.Running)
            {
                return (TemplateBuildState.Building, $"build {build.Id} is building it", build.Id);
            }

            return progress.State switch
            {
                BuildTemplateState.Failed => (TemplateBuildState.Failed, $"build {build.Id} failed: {progress.Error ?? build.Error ?? "no reason recorded"}", build.Id),
                BuildTemplateState.Pending or BuildTemplateState.Running =>
                    (TemplateBuildState.Failed, $"build {build.Id} ended before it was built: {build.Error ?? "no reason recorded"}", build.Id),
                // Built by that build but no longer recorded (a forced rebuild that failed later removed it): not here.
                _ => (TemplateBuildState.NotBuilt, "not built on this host", null),
            };
        }

        return (TemplateBuildState.NotBuilt, "not built on this host yet", null);
    }

    public ReleaseFile? FindFile(string name) => catalog.Find(name);

    /// <summary>"releases/2026.06.yaml": the form errors use, without the server's absolute path.</summary>
    public static string DisplayPath(ReleaseFile file) =>
        $"{Path.GetFileName(Path.GetDirectoryName(file.FilePath))}/{Path.GetFileName(file.FilePath)}";
}
