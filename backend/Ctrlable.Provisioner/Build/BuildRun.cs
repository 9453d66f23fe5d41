using System.Text;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Manifest;

namespace Ctrlable.Provisioner.Build;

/// <summary>A template the host reported as built or kept; <paramref name="HaosDigest"/>: "manifest" or "github" for a HAOS VM.</summary>
/// <summary>
/// What the host reported for a template. <paramref name="RunId"/> and <paramref name="Mac"/>: the proof of ownership the
/// run that created it wrote into it (run id in its description marker, random MAC on net0); null when the host did
/// not vouch for it (a kept template its ledger does not back, or an older wrapper).
/// </summary>
internal sealed record TemplateResult(string Node, string Commit, string? AppVersion, bool Skipped, string? HaosDigest, string? RunId = null, string? Mac = null);

/// <summary>One run's bookkeeping: the log, the progress and the results, fed line by line from both output streams.</summary>
internal sealed partial class BuildRun(BuildSummary summary, IReadOnlyList<TemplateSpec> planned, BuildRepository builds, LiveBuild live, TimeProvider time)
{
    // The stored log is capped; the wrapper's own log files on the host keep everything.
    private const int MaxLogChars = 8 * 1024 * 1024;

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
        // The ownership proof counts only as a pair of well-formed values: the run id and the MAC the run gave the guest.
        var (runId, mac) = line["run"] is { } r && RunId().IsMatch(r) && line["mac"] is { } m && MacAddress().IsMatch(m)
            ? (r, m.ToUpperInvariant())
            : ((string?)null, (string?)null);
        _results[spec.Name] = new TemplateResult(node, commit, appVersion, skipped, haosDigest, runId, mac);
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

    [GeneratedRegex("^[0-9a-f]{16}$")]
    private static partial Regex RunId();

    [GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")]
    private static partial Regex MacAddress();
}
