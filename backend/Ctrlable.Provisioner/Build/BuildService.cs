using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
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
public sealed partial class BuildService(
    ReleaseCatalog catalog,
    ReleaseRepository releases,
    BuildRepository builds,
    BuildLiveRegistry live,
    IHostTrigger trigger,
    IOptions<HostTriggerOptions> triggerOptions,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ProvisionerMetrics metrics,
    ILogger<BuildService> logger) : IHostedService, IAsyncDisposable
{
    // The stored log is capped; the wrapper's own log files on the host keep everything.
    private const int MaxLogChars = 8 * 1024 * 1024;

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

        if (run.Summary.Forced && planned.Where(t => !results.ContainsKey(t.Name)).Select(t => t.Name).ToList() is { Count: > 0 } gone)
        {
            // A forced rebuild removes the earlier template before building it again: a failed one is no longer there.
            await releases.ForgetTemplatesAsync(manifest.Release, gone, CancellationToken.None);
        }

        if (rows.Count > 0)
        {
            // One template is enough to make the release the one deploys use; what it lacks is unavailable until built.
            await releases.ActivateAsync(manifest.Release, manifest.CommunityScriptsRef, commit, rows, now, CancellationToken.None);
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
        run.Live.End(BuildRepository.ToSummary((await builds.FindAsync(id))!));
    }

    private BuildStart Refused(BuildRefusal refusal, string detail) => new(null, refusal, detail);

    private static string Kind(TemplateSpec t) => t.Kind == TemplateKind.Lxc ? "lxc" : "vm";

    /// <summary>A template the host reported as built or kept; <paramref name="HaosDigest"/>: "manifest" or "github" for a HAOS VM.</summary>
    internal sealed record TemplateResult(string Node, string Commit, string? AppVersion, bool Skipped, string? HaosDigest);

    /// <summary>One run's bookkeeping: the log, the progress and the results, fed line by line from both output streams.</summary>
    private sealed partial class BuildRun(BuildSummary summary, IReadOnlyList<TemplateSpec> planned, BuildRepository builds, LiveBuild live, TimeProvider time)
    {
        private readonly SemaphoreSlim _sync = new(1, 1);
        private readonly StringBuilder _pendingLog = new();
        private readonly List<string> _pendingLines = [];
        private readonly Dictionary<string, TemplateResult> _results = new(StringComparer.Ordinal);
        private List<BuildTemplateProgress> _progress = [.. summary.Templates];
        private DateTimeOffset _lastFlush = time.GetUtcNow();
        private int _logChars;
        private string? _lastError;
        private string? _buildFailure;

        public BuildSummary Summary { get; private set; } = summary;
        public LiveBuild Live { get; } = live;
        public string? Commit { get; private set; }
        public IReadOnlyList<BuildTemplateProgress> Progress => _progress;
        public IReadOnlyDictionary<string, TemplateResult> Results => _results;

        public async Task OnLineAsync(string rawLine, bool isError)
        {
            var line = Ansi().Replace(rawLine, "");
            await _sync.WaitAsync();
            try
            {
                if (isError && line.Length > 0)
                {
                    _lastError = line.StartsWith("ctrlable-build: ", StringComparison.Ordinal) ? line["ctrlable-build: ".Length..] : line;
                }

                Append(line);
                if (!isError && ProgressLine.Parse(line) is { } progress && Apply(progress))
                {
                    Summary = Summary with { Templates = _progress, CommunityScriptsCommit = Commit ?? Summary.CommunityScriptsCommit };
                    await FlushLogAsync();
                    await builds.UpdateProgressAsync(Summary.Id, _progress, Commit);
                    Live.Update(Summary);
                }
                else if (_pendingLines.Count >= 200 || time.GetUtcNow() - _lastFlush > TimeSpan.FromSeconds(1))
                {
                    await FlushLogAsync();
                }
            }
            finally
            {
                _sync.Release();
            }
        }

        public async Task FlushAsync()
        {
            await _sync.WaitAsync();
            try
            {
                await FlushLogAsync();
            }
            finally
            {
                _sync.Release();
            }
        }

        /// <summary>Why the build failed, in the words of the wrapper.</summary>
        public string FailureSummary(int? exitCode)
        {
            var failed = _progress.Where(p => p.State == BuildTemplateState.Failed).ToList();
            if (failed.Count > 0)
            {
                return $"{failed.Count} of {_progress.Count} template(s) failed: " + string.Join("; ", failed.Select(f => $"{f.Name}: {f.Error}"));
            }

            if (_buildFailure is not null)
            {
                return _buildFailure;
            }

            if (_lastError is not null)
            {
                return _lastError;
            }

            return exitCode == 0
                ? "ctrlable-build ended without reporting every template of the release."
                : $"ctrlable-build exited with code {exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}.";
        }

        private void Append(string line)
        {
            if (_logChars > MaxLogChars)
            {
                return;
            }

            _logChars += line.Length + 1;
            var kept = _logChars > MaxLogChars ? "… (log truncated; the host keeps the full log in /var/log/ctrlable-build)" : line;
            _pendingLog.Append(kept).Append('\n');
            _pendingLines.Add(kept);
        }

        private async Task FlushLogAsync()
        {
            if (_pendingLines.Count == 0)
            {
                return;
            }

            await builds.AppendLogAsync(Summary.Id, _pendingLog.ToString());
            Live.AddLines([.. _pendingLines]);
            _pendingLog.Clear();
            _pendingLines.Clear();
            _lastFlush = time.GetUtcNow();
        }

        /// <summary>Applies a progress line; false when it changes nothing (unknown template, malformed values).</summary>
        private bool Apply(ProgressLine line)
        {
            switch (line.Kind)
            {
                case ProgressLine.Upstream when line["commit"] is { } commit && CommitSha().IsMatch(commit):
                    Commit = commit;
                    return true;
                case ProgressLine.BuildFailed:
                    _buildFailure = line.Text;
                    return true;
                case ProgressLine.TemplateStarted:
                    return Change(line, p => p with { State = BuildTemplateState.Running, Step = 0, Steps = 0, StepText = null, Error = null });
                case ProgressLine.Step:
                    return Change(line, p => p with
                    {
                        State = p.State == BuildTemplateState.Pending ? BuildTemplateState.Running : p.State,
                        Step = Math.Max(0, line.Int("n") ?? p.Step),
                        Steps = Math.Max(0, line.Int("of") ?? p.Steps),
                        StepText = line.Text,
                    });
                case ProgressLine.TemplateFailed:
                    return Change(line, p => p with { State = BuildTemplateState.Failed, Error = line.Text ?? "failed" });
                case ProgressLine.TemplateDone or ProgressLine.TemplateSkipped:
                    return Result(line, skipped: line.Kind == ProgressLine.TemplateSkipped);
                default:
                    return false;
            }
        }

        private bool Result(ProgressLine line, bool skipped)
        {
            var name = line["template"];
            var spec = planned.FirstOrDefault(t => t.Name == name);
            if (spec is null || line.Int("vmid") != spec.Vmid || line["node"] is not { } node || !NodeName().IsMatch(node)
                || line["commit"] is not { } commit || !CommitSha().IsMatch(commit) || (Commit is not null && commit != Commit))
            {
                return Change(line, p => p with { State = BuildTemplateState.Failed, Error = "the host reported a result that does not match the manifest" });
            }

            var appVersion = line["app_version"] is { Length: > 0 and <= 64 } v && v != "-" ? v : null;
            // Where the HAOS image's digest came from: pinned in the manifest, or read from GitHub at build time.
            var haosDigest = spec.Kind == TemplateKind.Vm && line["haos_digest"] is "manifest" or "github" ? line["haos_digest"] : null;
            _results[spec.Name] = new TemplateResult(node, commit, appVersion, skipped, haosDigest);
            return Change(line, p => p with
            {
                State = skipped ? BuildTemplateState.Skipped : BuildTemplateState.Built,
                Step = skipped ? p.Step : p.Steps,
                StepText = skipped ? line.Text : "Done",
                AppVersion = appVersion,
                HaosDigest = haosDigest,
                Error = null,
            });
        }

        private bool Change(ProgressLine line, Func<BuildTemplateProgress, BuildTemplateProgress> change)
        {
            var index = _progress.FindIndex(p => p.Name == line["template"]);
            if (index < 0)
            {
                return false;
            }

            _progress = [.. _progress];
            _progress[index] = change(_progress[index]);
            return true;
        }

        [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]")]
        private static partial Regex Ansi();

        [GeneratedRegex("^[0-9a-f]{40}$")]
        private static partial Regex CommitSha();

        [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$")]
        private static partial Regex NodeName();
    }
}

/// <summary>At start-up: builds a previous process left "running" can no longer be followed, so they failed.</summary>
public sealed class BuildRecovery(BuildRepository builds, TimeProvider time, ILogger<BuildRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var count = await builds.FailAbandonedAsync(
            "The orchestrator restarted while this build ran, so its outcome is unknown here. " + BuildService.HostMayStillRun,
            "unknown: the orchestrator restarted before the host reported it", time.GetUtcNow(), cancellationToken);
        if (count > 0)
        {
            logger.LogWarning("Marked {Count} build(s) left running by a previous start as failed", count);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
