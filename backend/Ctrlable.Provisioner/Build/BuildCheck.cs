using System.Collections.Concurrent;
using Ctrlable.Provisioner.Manifest;

namespace Ctrlable.Provisioner.Build;

/// <summary>
/// Tickets of running checks. A check ticket looks like a build ticket (<c>ctb_…</c>, the wrapper reads either the
/// same way) but opens only <c>GET /api/build-host/plan</c>, once; the secret endpoint refuses it. It lives in memory
/// only: a check runs inside one request of this process, and dies with it.
/// </summary>
public sealed class CheckTickets(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, CheckTicket> _tickets = new(StringComparer.Ordinal);

    /// <summary>Issues a ticket for a check of <paramref name="release"/> (only <paramref name="templates"/> when given).</summary>
    public string Issue(string release, IReadOnlyList<string>? templates, TimeSpan lifetime)
    {
        var ticket = BuildTickets.New();
        _tickets[BuildTickets.Hash(ticket)] = new CheckTicket(release, templates, time.GetUtcNow() + lifetime);
        return ticket;
    }

    /// <summary>The live check whose ticket has this hash, or null.</summary>
    public CheckTicket? Find(string ticketHash) =>
        _tickets.TryGetValue(ticketHash, out var check) && check.ExpiresAt > time.GetUtcNow() ? check : null;

    public void Revoke(string ticket) => _tickets.TryRemove(BuildTickets.Hash(ticket), out _);
}

/// <summary>A running check: which release and templates its plan carries, until when its ticket is good.</summary>
public sealed class CheckTicket(string release, IReadOnlyList<string>? templates, DateTimeOffset expiresAt)
{
    private int _planFetched;

    public string Release { get; } = release;
    public IReadOnlyList<string>? Templates { get; } = templates;
    public DateTimeOffset ExpiresAt { get; } = expiresAt;

    /// <summary>Records the one plan fetch; false when it happened already.</summary>
    public bool UsePlan() => Interlocked.Exchange(ref _planFetched, 1) == 0;
}

/// <summary>Why a check gave no verdict.</summary>
public enum CheckRefusal { ReleaseNotFound, ReleaseInvalid, ReleaseNotPinned, UnknownTemplates, TriggerNotConfigured, CheckRunning, Unreachable, Refused, Failed, TimedOut }

/// <summary>The host's verdict, or why there is none (<paramref name="Errors"/>: per request field, for UnknownTemplates).</summary>
public sealed record CheckOutcome(BuildCheckResult? Result, CheckRefusal? Refusal, string? Detail, IReadOnlyDictionary<string, string[]>? Errors = null);

/// <summary>
/// The preflight before a long build: <c>ctrlable-build --check &lt;release&gt;</c> through the host trigger, with a
/// check ticket on standard input. The wrapper prints <c>::ctrlable check-problem text=…</c> per problem,
/// <c>::ctrlable check-ok text=…</c> per check passed and <c>::ctrlable check-done problems=N</c>, changes nothing and
/// takes no lock; exit 0 = no problems, 2 = problems, 64 = refused, 1 = could not run. One check at a time; at most
/// <see cref="Timeout"/>.
/// </summary>
public sealed class BuildCheckService(
    ReleaseCatalog catalog,
    IHostTrigger trigger,
    CheckTickets tickets,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<BuildCheckService> logger)
{
    /// <summary>Longest a check may take (it reads, it never builds).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    // Enough for any release; a wrapper printing more is not one we wrote.
    private const int MaxLines = 500;

    private readonly SemaphoreSlim _one = new(1, 1);

    public async Task<CheckOutcome> CheckAsync(string release, IReadOnlyList<string>? templates, CancellationToken ct)
    {
        var file = catalog.Find(release);
        if (file is null)
        {
            return Refused(CheckRefusal.ReleaseNotFound, $"There is no release '{release}' in the releases directory.");
        }

        if (!file.IsValid)
        {
            return Refused(CheckRefusal.ReleaseInvalid, $"The manifest of {release} has {file.Errors.Count} error(s); fix them before building. First: {file.Errors[0]}");
        }

        // The plan carries the commit the tag must resolve to; without it there is nothing to check against (as for a build).
        if (file.Manifest!.CommunityScriptsCommit is null)
        {
            return Refused(CheckRefusal.ReleaseNotPinned, $"The manifest of {release} names tag '{file.Manifest.CommunityScriptsRef}' but not the commit it points to: "
                + $"run scripts/pin-release.sh releases/{release}.yaml where GitHub is reachable (it records community_scripts_commit), then check again.");
        }

        if (BuildService.UnknownTemplates(file.Manifest!, templates) is { } unknown)
        {
            return new CheckOutcome(null, CheckRefusal.UnknownTemplates, $"{release} has no template {string.Join(", ", unknown.Values.SelectMany(v => v))}.", unknown);
        }

        if (!trigger.IsConfigured)
        {
            return Refused(CheckRefusal.TriggerNotConfigured, BuildService.TriggerNotConfiguredDetail);
        }

        if (!await _one.WaitAsync(0, ct))
        {
            return Refused(CheckRefusal.CheckRunning, "A check of the host is running already; wait for its answer.");
        }

        try
        {
            var planned = templates is null ? null : BuildService.Planned(file.Manifest!, templates).Select(t => t.Name).ToList();
            return await RunAsync(release, planned, ct);
        }
        finally
        {
            _one.Release();
        }
    }

    private async Task<CheckOutcome> RunAsync(string release, IReadOnlyList<string>? templates, CancellationToken ct)
    {
        var problems = new List<string>();
        var passed = new List<string>();
        string? lastError = null;
        var sync = new Lock();
        Task OnLine(string line, bool isError)
        {
            lock (sync)
            {
                if (isError)
                {
                    lastError = line.Length == 0 ? lastError : line.StartsWith("ctrlable-build: ", StringComparison.Ordinal) ? line["ctrlable-build: ".Length..] : line;
                }
                else if (problems.Count + passed.Count < MaxLines && ProgressLine.Parse(line) is { } progress)
                {
                    if (progress.Kind == ProgressLine.CheckProblem)
                    {
                        problems.Add(progress.Text ?? "(the host named no reason)");
                    }
                    else if (progress.Kind == ProgressLine.CheckOk && progress.Text is { } text)
                    {
                        passed.Add(text);
                    }
                }
            }

            return Task.CompletedTask;
        }

        var ticket = tickets.Issue(release, templates, Timeout);
        using var timeout = new CancellationTokenSource(Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, ct, lifetime.ApplicationStopping);
        int exitCode;
        try
        {
            exitCode = await trigger.RunAsync(HostCommand.Check, release, $"ticket={ticket}\n", OnLine, linked.Token);
        }
        catch (HostTriggerException e)
        {
            logger.LogWarning("Check of {Release}: {Error}", release, e.Message);
            return Refused(CheckRefusal.Unreachable, e.Message);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return Refused(CheckRefusal.TimedOut, $"The host did not finish the check within {Timeout.TotalMinutes:0} minutes.");
        }
        finally
        {
            tickets.Revoke(ticket);
        }

        lock (sync)
        {
            logger.LogInformation("Check of {Release} on {Target}: exit {ExitCode}, {Problems} problem(s), {Passed} check(s) passed", release, trigger.Target, exitCode, problems.Count, passed.Count);
            return exitCode switch
            {
                0 or 2 => new CheckOutcome(
                    new BuildCheckResult(
                        exitCode == 0 && problems.Count == 0,
                        exitCode == 2 && problems.Count == 0 ? [lastError ?? "The host reported problems without naming them."] : [.. problems],
                        [.. passed]),
                    null,
                    null),
                64 => Refused(CheckRefusal.Refused,
                    $"The host refused the check: {Reason(lastError)}. A ctrlable-build without --check is older than this orchestrator: install the host/ctrlable-build of this version on the Proxmox host (install.sh does)."),
                _ => Refused(CheckRefusal.Failed, $"ctrlable-build --check could not run (exit code {exitCode}): {lastError ?? "no reason given"}"),
            };
        }
    }

    private static CheckOutcome Refused(CheckRefusal refusal, string detail) => new(null, refusal, detail);

    /// <summary>The wrapper's refusal line without its own "refused: " (the answer says it was refused already).</summary>
    private static string Reason(string? line) =>
        line is null ? "no reason given" : line.StartsWith("refused: ", StringComparison.Ordinal) ? line["refused: ".Length..] : line;
}
