using System.Collections.Concurrent;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.State;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Build;

/// <summary>Why a build could not start.</summary>
public enum BuildRefusal { ReleaseNotFound, ReleaseInvalid, TriggerNotConfigured, AlreadyRunning, ForceOnActiveRelease, ReleaseNotPinned, UnknownTemplates }

/// <summary>The started build, or why there is none (<paramref name="Errors"/>: per request field, for UnknownTemplates).</summary>
public sealed record BuildStart(BuildSummary? Build, BuildRefusal? Refusal, string? Detail, IReadOnlyDictionary<string, string[]>? Errors = null);

/// <summary>
/// "Build release": creates the build record with a fresh ticket, runs ctrlable-build on the host through the
/// trigger in the background, turns its progress lines into per-template progress (persisted and streamed), keeps
/// the full log, and at the end records the templates it built or kept and makes their release the active one — as
/// soon as one template is there (SPEC §8a, "Activation per template"). A build may be asked for some templates only
/// (rebuilding what failed); the others are not in its plan and stay untouched.
/// </summary>
public sealed class BuildService(
    ReleaseCatalog catalog,
    ReleaseRepository releases,
    BuildRepository builds,
    BuildLiveRegistry live,
    IHostTrigger trigger,
    IOptions<HostTriggerOptions> triggerOptions,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ProvisionerMetrics metrics,
    Alerts.AlertEvents alerts,
    ILogger<BuildService> logger) : IHostedService, IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, Task> _running = new();

    /// <summary>Starts a build of <paramref name="release"/>: only <paramref name="templates"/> (checked against the manifest) when given.</summary>
    public async Task<BuildStart> StartAsync(string release, bool force, IReadOnlyList<string>? templates, string? requestedBy, CancellationToken ct)
    {
        var file = catalog.Find(release);
        if (file is null)
        {
            return Refused(BuildRefusal.ReleaseNotFound, $"There is no release '{release}' in the releases directory.");
        }

        if (!file.IsValid)
        {
            return Refused(BuildRefusal.ReleaseInvalid, $"The manifest of {release} has {file.Errors.Count} error(s); fix them before building. First: {file.Errors[0]}");
        }

        // A tag can move: the host builds only a tag whose commit the manifest recorded.
        if (file.Manifest!.CommunityScriptsCommit is null)
        {
            return Refused(BuildRefusal.ReleaseNotPinned, $"The manifest of {release} names tag '{file.Manifest.CommunityScriptsRef}' but not the commit it points to: "
                + $"run scripts/pin-release.sh releases/{release}.yaml where GitHub is reachable (it records community_scripts_commit), then build.");
        }

        var manifest = file.Manifest!;
        if (UnknownTemplates(manifest, templates) is { } unknown)
        {
            return new BuildStart(null, BuildRefusal.UnknownTemplates, $"{release} has no template {string.Join(", ", unknown.Values.SelectMany(v => v))}.", unknown);
        }

        if (!trigger.IsConfigured)
        {
            return Refused(BuildRefusal.TriggerNotConfigured, TriggerNotConfiguredDetail);
        }

        if (force && await releases.GetActiveNameAsync(ct) == release)
        {
            return Refused(BuildRefusal.ForceOnActiveRelease, $"{release} is the active release: a forced rebuild would replace the templates deploys use. Build a new release instead.");
        }

        var planned = Planned(manifest, templates);
        var ticket = BuildTickets.New();
        var now = time.GetUtcNow();
        var progress = planned.Select(t => new BuildTemplateProgress(t.Name, Kind(t), t.Vmid, BuildTemplateState.Pending, 0, 0, null, null, null)).ToList();
        long id;
        try
        {
            id = await builds.CreateAsync(release, trigger.Target, requestedBy, force, manifest.CommunityScriptsRef, BuildTickets.Hash(ticket),
                now + Timeout, progress, now, ct, templates is null ? null : [.. planned.Select(t => t.Name)]);
        }
        catch (SqliteException e) when (Database.IsUniqueViolation(e))
        {
            var running = await builds.FindRunningAsync(trigger.Target, ct);
            return Refused(BuildRefusal.AlreadyRunning, running is null
                ? "A build is already running on this host."
                : $"Build {running.Id} of {running.Release} is running on this host; one build runs at a time.");
        }

        var summary = BuildRepository.ToSummary((await builds.FindAsync(id, ct))!);
        var liveBuild = live.Add(summary);
        logger.LogInformation("Build {BuildId} of release {Release} ({Templates}) started by {RequestedBy} (force: {Force})",
            id, release, templates is null ? "every template" : string.Join(", ", summary.Templates.Select(t => t.Name)), requestedBy, force);
        // The build outlives the request that started it: its lines carry the build's id, not that request's id and trace.
        using (ExecutionContext.SuppressFlow())
        {
            _running[id] = Task.Run(() => RunAsync(summary, manifest, planned, ticket, liveBuild));
        }

        return new BuildStart(summary, null, null);
    }

    /// <summary>What a build the orchestrator lost sight of means on the host, and what to do.</summary>
    internal const string HostMayStillRun =
        "The host may still be running it (its log is in /var/log/ctrlable-build on the host); a new build starts once it has ended, and keeps the templates it finished.";

    internal const string TriggerNotConfiguredDetail =
        "Builds need the host trigger on the Proxmox host: set HostTrigger:Host, KeyPath and HostKeyFingerprint (see README, \"Host build trigger\").";

    /// <summary>The manifest's templates a build (or check) of <paramref name="names"/> carries, in manifest order; null names: all.</summary>
    internal static IReadOnlyList<TemplateSpec> Planned(ReleaseManifest manifest, IReadOnlyCollection<string>? names) =>
        names is null ? manifest.Templates : [.. manifest.Templates.Where(t => names.Contains(t.Name))];

    /// <summary>Request errors ("templates[i]" → message) for names the manifest does not have; null when all are known.</summary>
    internal static IReadOnlyDictionary<string, string[]>? UnknownTemplates(ReleaseManifest manifest, IReadOnlyList<string>? names)
    {
        if (names is null)
        {
            return null;
        }

        var known = string.Join(", ", manifest.Templates.Select(t => t.Name));
        var errors = names
            .Select((name, i) => (name, i))
            .Where(n => manifest.Templates.All(t => t.Name != n.name))
            .ToDictionary(n => $"templates[{n.i}]", n => new[] { $"{manifest.Release} has no template '{n.name}'; it has {known}." });
        return errors.Count == 0 ? null : errors;
    }

    /// <summary>Waits for a running build (tests, shutdown).</summary>
    public Task WaitAsync(long id) => _running.GetValueOrDefault(id) ?? Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The orchestrator stops: ApplicationStopping has cancelled every running build; each is recorded as failed before
    /// the host goes on (bounded by the host's shutdown timeout), so the next start does not find it "running".
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_running.Values).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Stopping before {Count} build(s) were recorded as ended; the next start marks them failed", _running.Count);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_running.Values);
    }

    private TimeSpan Timeout => TimeSpan.FromMinutes(triggerOptions.Value.BuildTimeoutMinutes);

    private async Task RunAsync(BuildSummary summary, ReleaseManifest manifest, IReadOnlyList<TemplateSpec> planned, string ticket, LiveBuild liveBuild)
    {
        // Every line the build writes carries its id.
        using var scope = logger.BeginBuildScope(summary.Id);
        var run = new BuildRun(summary, planned, builds, liveBuild, time);
        int? exitCode = null;
        string? error = null;
        using var timeout = new CancellationTokenSource(Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, lifetime.ApplicationStopping);
        try
        {
            exitCode = await trigger.RunAsync(HostCommand.Build, manifest.Release, $"ticket={ticket}\n", run.OnLineAsync, linked.Token);
        }
        catch (HostTriggerException e)
        {
            error = e.LostDuringRun ? $"{e.Message} {HostMayStillRun}" : e.Message;
            logger.LogWarning("Build {BuildId}: {Error}", summary.Id, e.Message);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // The orchestrator lets go of the build; it cannot stop it (sshd sends no signal to a forced command, and the
            // wrapper finishes by itself when its connection is gone, holding the host's build lock until then).
            error = (timeout.IsCancellationRequested
                ? $"The build did not finish within {Timeout.TotalMinutes:0} minutes (HostTrigger:BuildTimeoutMinutes); the orchestrator stopped following it. "
                : "The orchestrator stopped during the build. ") + HostMayStillRun;
        }
        catch (Exception e)
        {
            // A bug here must still end the build visibly, not leave it "running" forever.
            error = "The build failed inside the orchestrator; see its log.";
            logger.LogError(e, "Build {BuildId} failed inside the orchestrator", summary.Id);
        }

        try
        {
            await FinishAsync(run, manifest, planned, exitCode, error);
        }
        finally
        {
            live.Remove(summary.Id);
            _running.TryRemove(summary.Id, out _);
        }
    }

    private async Task FinishAsync(BuildRun run, ReleaseManifest manifest, IReadOnlyList<TemplateSpec> planned, int? exitCode, string? error)
    {
        await run.FlushAsync();
        var now = time.GetUtcNow();
        var id = run.Summary.Id;
        var progress = run.Progress;
        var results = run.Results;
        var commit = run.Commit;

        // Templates built (or kept) by this run, as the templates table records them.
        var existing = (await releases.ListTemplatesAsync(manifest.Release)).ToDictionary(t => t.Name);
        var rows = planned
            .Where(t => results.ContainsKey(t.Name))
            .Select(t =>
            {
                var result = results[t.Name];
                var kept = result.Skipped && existing.TryGetValue(t.Name, out var old) && old.BuilderCommit == result.Commit ? old : null;
                return new TemplateRow(0, manifest.Release, t.Name, Kind(t), t.Vmid, result.Node, manifest.CommunityScriptsRef, result.Commit,
                    result.AppVersion ?? t.AppVersion, kept?.BuiltAt ?? now, result.HaosDigest ?? kept?.HaosDigest);
            })
            .ToList();

        // The ownership proof the run reported; a kept template the host's ledger did not vouch for keeps the proof
        // recorded when it was built (same VMID), which the removal checks against its live config anyway.
        var proofs = rows
            .Select(r =>
            {
                var result = results[r.Name];
                if (result.RunId is not null)
                {
                    return new TemplateProof(r.Name, id, result.RunId, result.Mac);
                }

                return result.Skipped && existing.TryGetValue(r.Name, out var old) && old.Vmid == r.Vmid
                    ? null
                    : new TemplateProof(r.Name, null, null, null);
            })
            .OfType<TemplateProof>()
            .ToList();

        if (run.Summary.Forced && planned.Where(t => !results.ContainsKey(t.Name)).Select(t => t.Name).ToList() is { Count: > 0 } gone)
        {
            // A forced rebuild removes the earlier template before building it again: a failed one is no longer there.
            await releases.ForgetTemplatesAsync(manifest.Release, gone, CancellationToken.None);
        }

        if (rows.Count > 0)
        {
            // One template is enough to make the release the one deploys use; what it lacks is unavailable until built.
            await releases.ActivateAsync(manifest.Release, manifest.CommunityScriptsRef, commit, rows, now, CancellationToken.None, proofs);
        }

        var complete = rows.Count == planned.Count && commit is not null;
        BuildState state;
        if (error is null && exitCode == 0 && complete)
        {
            state = BuildState.Succeeded;
            logger.LogInformation("Build {BuildId}: {Count} template(s) of {Release} built or kept; it is the active release", id, rows.Count, manifest.Release);
        }
        else
        {
            state = BuildState.Failed;
            error ??= run.FailureSummary(exitCode);
            progress = BuildTemplateProgress.FailUnfinished(progress, "not built: the build ended first");
            logger.LogWarning("Build {BuildId} of {Release} failed ({Ready} of {Planned} template(s) ready{Activated}): {Error}",
                id, manifest.Release, rows.Count, planned.Count, rows.Count > 0 ? "; it is the active release" : "", error);
        }

        await builds.UpdateProgressAsync(id, progress, commit);
        await builds.FinishAsync(id, state, error, exitCode, progress, now);
        metrics.Build(state == BuildState.Succeeded ? "succeeded" : "failed", now - run.Summary.StartedAt);
        await AlertAsync(run.Summary, manifest.Release, state, error);
        run.Live.End(BuildRepository.ToSummary((await builds.FindAsync(id))!));
    }

    /// <summary>A failed build opens the release's build-failed incident; a build of it that succeeds resolves it.</summary>
    private async Task AlertAsync(BuildSummary summary, string release, BuildState state, string? error)
    {
        if (state == BuildState.Succeeded)
        {
            await alerts.ResolveAsync(Alerts.AlertKinds.BuildFailed, $"release/{release}", $"Build {summary.Id} of {release} succeeded.", CancellationToken.None);
            return;
        }

        await alerts.RaiseAsync(new Alerts.Incident(Alerts.AlertKinds.BuildFailed, $"release/{release}", Alerts.AlertSeverities.Warning,
            $"Build {summary.Id} of release {release} failed", error ?? "The build failed; see its log.")
        { LinkPath = "/releases" }, CancellationToken.None);
    }

    private BuildStart Refused(BuildRefusal refusal, string detail) => new(null, refusal, detail);

    private static string Kind(TemplateSpec t) => t.Kind == TemplateKind.Lxc ? "lxc" : "vm";
}
