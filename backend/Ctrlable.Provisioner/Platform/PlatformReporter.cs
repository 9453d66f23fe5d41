using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Secrets;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Platform;

/// <summary>
/// The outbox sender: delivers the newest snapshot of the site whenever changes are recorded (all changes since the
/// last delivered report go out as one report) and at least every heartbeat. Failures back off exponentially with
/// jitter, persisted in <c>platform_site</c>, so a restart neither loses a report nor retries early; a rejected token
/// stops it until an admin enrols again. Not configured or not enrolled = idle, never an error loop.
/// </summary>
public sealed class PlatformReporter(
    PlatformRepository repository,
    PlatformClient client,
    SecretStore secrets,
    ProxmoxClient proxmox,
    ProxmoxConnections connections,
    IOptions<PlatformOptions> options,
    TimeProvider time,
    ILogger<PlatformReporter> logger) : BackgroundService
{
    /// <summary>Name of the site token in the secret store (kind <see cref="SecretKind.PlatformToken"/>).</summary>
    public const string TokenSecretName = "site";

    public const string TokenRejectedMessage = "The platform rejected the site token — re-enrol this site with a new code.";

    // Reading the host must not hold a report back for long: the Proxmox client's own retries can take minutes.
    private static readonly TimeSpan HostSummaryTimeout = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _wake = new(0);
    private TimeSpan _heartbeatJitter;
    private SleepMark _lastSleep = new(0, DateTimeOffset.MinValue, false);

    /// <summary>How many times the sender went to sleep, its timer armed; when (on the injected clock); whether it still sleeps.</summary>
    internal sealed record SleepMark(long Count, DateTimeOffset At, bool Asleep);

    /// <summary>
    /// The sender's last sleep: a test waits for the sender to have looked at the state and chosen to wait (for
    /// example after moving a fake clock) instead of sleeping for a guessed time and hoping it got there.
    /// </summary>
    internal SleepMark LastSleep => Volatile.Read(ref _lastSleep);

    /// <summary>Re-reads the state now instead of at the next poll (after an enrolment).</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.IsConfigured)
        {
            logger.LogInformation("Not connected to a platform: Platform:Url is not set; nothing will be reported");
            return;
        }

        _heartbeatJitter = Jitter(settings.HeartbeatJitter);
        // Many sites may start together (a fleet-wide update, a power cut): spread their first reports. Wake() (an
        // enrolment) ends the wait at once.
        await SleepAsync(Jitter(settings.StartupJitter), stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var state = await repository.GetAsync(stoppingToken);
                var wait = Due(state, settings, time.GetUtcNow());
                if (wait > TimeSpan.Zero)
                {
                    await SleepAsync(wait < settings.PollInterval ? wait : settings.PollInterval, stoppingToken);
                    continue;
                }

                await AttemptAsync(state, settings, stoppingToken);
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex)
            {
                // A busy or failing database must not stop the host; the outbox is still there next time.
                logger.LogError(ex, "Platform reporter could not use the database; trying again shortly");
                await SleepAsync(settings.PollInterval, stoppingToken);
            }
        }
    }

    /// <summary>How long until the next attempt is due (zero = now).</summary>
    private TimeSpan Due(PlatformSiteRow state, PlatformOptions settings, DateTimeOffset now)
    {
        if (!state.IsEnrolled || state.TokenRejected)
        {
            return settings.PollInterval;
        }

        DateTimeOffset due;
        if (state.Failures > 0 && state.NextAttemptAt is { } next)
        {
            due = next; // back-off: a failed change report and a failed heartbeat both wait for it
        }
        else if (state.PendingChanges > 0)
        {
            return TimeSpan.Zero;
        }
        else
        {
            due = (state.LastSuccessAt ?? state.EnrolledAt ?? now) + settings.Heartbeat + _heartbeatJitter;
        }

        return due > now ? due - now : TimeSpan.Zero;
    }

    private async Task AttemptAsync(PlatformSiteRow state, PlatformOptions settings, CancellationToken ct)
    {
        var token = await TokenAsync(ct);
        if (token is null)
        {
            await repository.MarkTokenRejectedAsync("The site token cannot be read on this host (missing, or the key ring changed) — re-enrol this site.", time.GetUtcNow(), ct);
            logger.LogWarning("Platform reports stopped: the site token cannot be read; an admin must re-enrol");
            return;
        }

        var host = await HostAsync(ct);
        var snapshot = await repository.TakeSnapshotAsync(ct);
        if (snapshot is null)
        {
            return; // disconnected meanwhile
        }

        var report = Build(snapshot, host, time.GetUtcNow());
        var result = await client.SendReportAsync(report, token, ct);
        var now = time.GetUtcNow();
        switch (result.Outcome)
        {
            case DeliveryOutcome.Accepted:
                await repository.MarkDeliveredAsync(snapshot.CoversOutboxId, now, ct);
                _heartbeatJitter = Jitter(settings.HeartbeatJitter);
                if (state.Failures > 0)
                {
                    logger.LogInformation("Platform reachable again after {Failures} failed attempt(s); report {Sequence} delivered", state.Failures, snapshot.Sequence);
                }
                else
                {
                    logger.LogDebug("Platform report {Sequence} delivered ({Trigger}, {Changes} change(s))", snapshot.Sequence, report.Trigger, snapshot.Changes);
                }

                break;
            case DeliveryOutcome.SequenceBehind:
                // Our database is older than what the platform saw (restored backup): continue above its number. The
                // resend waits like a failure, so a platform that keeps answering this cannot cause a tight loop.
                await repository.RaiseSequenceAsync(result.LastSequence, ct);
                await repository.RecordFailureAsync(result.Error ?? "The platform holds a newer report.", now, now + BackoffAfter(state, settings), ct);
                logger.LogWarning("Platform holds report sequence {Last} above ours ({Sequence}); continuing above it", result.LastSequence, snapshot.Sequence);
                break;
            case DeliveryOutcome.TokenRejected:
                await repository.MarkTokenRejectedAsync($"{TokenRejectedMessage} ({result.Error})", now, ct);
                logger.LogWarning("Platform rejected the site token ({Error}); reports stop until an admin re-enrols", result.Error);
                break;
            default:
                var delay = BackoffAfter(state, settings);
                if (result.RetryAfter is { } retryAfter && retryAfter > delay)
                {
                    delay = retryAfter < settings.RetryMaxDelay ? retryAfter : settings.RetryMaxDelay;
                }

                await repository.RecordFailureAsync(result.Error ?? "Unknown failure.", now, now + delay, ct);
                // Quiet while it keeps failing: one warning when it starts, then debug lines.
                logger.Log(state.Failures == 0 ? LogLevel.Warning : LogLevel.Debug,
                    "Platform report {Sequence} not delivered: {Error}; next attempt in {Delay}", snapshot.Sequence, result.Error, delay);
                break;
        }
    }

    private static TimeSpan BackoffAfter(PlatformSiteRow state, PlatformOptions settings) =>
        PlatformBackoff.Delay((int)Math.Min(state.Failures + 1, int.MaxValue), settings.RetryBaseDelay, settings.RetryMaxDelay, Random.Shared);

    public static SiteReport Build(PlatformSnapshot snapshot, HostSummary host, DateTimeOffset now) => new(
        snapshot.SiteId,
        snapshot.Sequence,
        now,
        snapshot.EnrolmentPending ? ReportTriggers.Enrolment : snapshot.Changes > 0 ? ReportTriggers.Change : ReportTriggers.Heartbeat,
        (int)Math.Min(snapshot.Changes, int.MaxValue),
        new OrchestratorInfo(PlatformJson.OrchestratorVersion),
        snapshot.ActiveRelease is { ActivatedAt: { } activatedAt } release
            ? new ReportedRelease(release.Name, release.CommunityScriptsRef, release.CommunityScriptsCommit, activatedAt,
                [.. snapshot.Templates.Select(t => new ReportedTemplate(t.Name, t.Kind, t.Vmid, t.Node, t.AppVersion, t.BuiltAt))])
            : null,
        snapshot.Instances,
        host);

    /// <summary>The site token, or null when none is stored or this host cannot decrypt it (the key ring changed).</summary>
    public async Task<string?> TokenAsync(CancellationToken ct)
    {
        try
        {
            return await secrets.GetAsync(SecretKind.PlatformToken, TokenSecretName, ct);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    /// <summary>The Proxmox nodes as the orchestrator sees them now; unreachable is reported, not fatal.</summary>
    private async Task<HostSummary> HostAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(HostSummaryTimeout);
        try
        {
            var nodes = await proxmox.GetNodesAsync(timeout.Token);
            return new HostSummary(connections.Current.Simulated, true,
                [.. nodes.OrderBy(n => n.Node, StringComparer.Ordinal).Select(n => new HostNode(n.Node, n.Status, n.Maxcpu, n.Cpu, n.Mem, n.Maxmem, n.Uptime))]);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is ProxmoxException or HttpRequestException or OperationCanceledException or TimeoutException or Polly.Timeout.TimeoutRejectedException)
        {
            logger.LogDebug("Platform report without host details: Proxmox not readable ({Error})", ex.Message);
            return new HostSummary(connections.Current.Simulated, false, []);
        }
    }

    private async Task SleepAsync(TimeSpan delay, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var woken = _wake.WaitAsync(linked.Token);
        var slept = Task.Delay(delay, time, linked.Token);
        Volatile.Write(ref _lastSleep, new SleepMark(_lastSleep.Count + 1, time.GetUtcNow(), true));
        await Task.WhenAny(woken, slept);
        Volatile.Write(ref _lastSleep, _lastSleep with { Asleep = false });
        await linked.CancelAsync();
        try
        {
            await Task.WhenAll(woken, slept);
        }
        catch (OperationCanceledException)
        {
            // One of the two was cancelled on purpose; a stop request is seen by the loop.
        }
    }

    private static TimeSpan Jitter(TimeSpan max) => max <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * max.Ticks));

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}

/// <summary>Exponential back-off with "equal jitter": half the exponential step fixed, half random, capped.</summary>
public static class PlatformBackoff
{
    public static TimeSpan Delay(int failures, TimeSpan baseDelay, TimeSpan maxDelay, Random random)
    {
        var exponent = Math.Clamp(failures - 1, 0, 30);
        var step = Math.Min(baseDelay.Ticks * Math.Pow(2, exponent), maxDelay.Ticks);
        return TimeSpan.FromTicks((long)((step / 2) + (random.NextDouble() * step / 2)));
    }
}
