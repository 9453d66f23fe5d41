using System.ComponentModel;

namespace Ctrlable.Provisioner.Build;

/// <summary>A build's outcome so far. Wire: running, succeeded, failed.</summary>
public enum BuildState { Running, Succeeded, Failed }

/// <summary>Where one template of a build stands. Wire: pending, running, built, skipped, failed.</summary>
public enum BuildTemplateState { Pending, Running, Built, Skipped, Failed }

/// <summary>One template's progress in a build, from the host wrapper's progress lines.</summary>
public sealed record BuildTemplateProgress(
    string Name,
    string Kind,
    int Vmid,
    BuildTemplateState State,
    [property: Description("Current step (1-based; 0 before the first).")] int Step,
    [property: Description("Number of steps of this template's build (0 until it started).")] int Steps,
    [property: Description("What the current step does.")] string? StepText,
    [property: Description("Why the template failed.")] string? Error,
    [property: Description("The app version the template carries (built or skipped).")] string? AppVersion,
    [property: Description("vm/haos-vm.sh only: where the image's SHA-256 came from: 'manifest' (haos_sha256, pinned) or 'github' (read from GitHub's release API at build time, not pinned in the manifest).")] string? HaosDigest = null)
{
    /// <summary>A failed build's templates: those that never got a verdict (pending, running) did not build.</summary>
    public static List<BuildTemplateProgress> FailUnfinished(IEnumerable<BuildTemplateProgress> progress, string error) =>
        [.. progress.Select(p => p.State is BuildTemplateState.Pending or BuildTemplateState.Running
            ? p with { State = BuildTemplateState.Failed, Error = p.Error ?? error }
            : p)];
}

/// <summary>A build of a release on this host, without its log.</summary>
public sealed record BuildSummary(
    long Id,
    string Release,
    BuildState State,
    [property: Description("Templates already built for this release and ref were rebuilt.")] bool Forced,
    [property: Description("The user or API token that asked for the build.")] string? RequestedBy,
    string? CommunityScriptsRef,
    [property: Description("The commit the host fetched for the ref (known once the build fetched upstream).")] string? CommunityScriptsCommit,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    [property: Description("The templates this build was asked for, in build order: every template of the release, or the ones named in the request.")]
    IReadOnlyList<BuildTemplateProgress> Templates,
    [property: Description("The template names the request named (a rebuild of some templates only, the others untouched); null when it built the whole release.")]
    IReadOnlyList<string>? RequestedTemplates = null);

/// <summary>A build with its full log (the host wrapper's output, builders' lines prefixed with their template).</summary>
public sealed record BuildDetail(BuildSummary Build, string Log);

/// <summary>
/// One server-sent event of a build's stream: <c>build</c> (the summary changed), <c>log</c> (new log lines,
/// <see cref="LogFrom"/> is the index of the first) and <c>end</c> (the final summary; the stream closes).
/// </summary>
public sealed record BuildStreamMessage(BuildSummary? Build, int? LogFrom, IReadOnlyList<string>? LogLines);

/// <summary>Whether builds can run from here: the host trigger's settings and the build running now, if any.</summary>
public sealed record BuildTriggerInfo(
    [property: Description("HostTrigger:Host is set; without it \"Build release\" is unavailable.")] bool Configured,
    [property: Description("user@host:port of the host trigger.")] string? Target,
    BuildSummary? Running);

/// <summary>POST /api/releases/{release}/build.</summary>
public sealed record StartBuildRequest(
    [property: Description("Rebuild templates that were already built for this release and ref.")] bool Force = false,
    [property: Description("Build only these templates of the release (e.g. the one that failed); the others and the release's first-boot secret stay as they are. Absent: every template.")]
    IReadOnlyList<string>? Templates = null);

/// <summary>POST /api/releases/{release}/check.</summary>
public sealed record CheckBuildRequest(
    [property: Description("Check only for these templates of the release (as a build of them would); absent: every template.")]
    IReadOnlyList<string>? Templates = null);

/// <summary>The host's preflight for a build (<c>ctrlable-build --check</c>): nothing on the host is changed.</summary>
public sealed record BuildCheckResult(
    [property: Description("The host found nothing that would stop the build.")] bool Ok,
    [property: Description("One line per problem, in the host's words (e.g. not enough free space on a storage, a template VMID in use).")] IReadOnlyList<string> Problems,
    [property: Description("One line per check that passed.")] IReadOnlyList<string> Passed);
