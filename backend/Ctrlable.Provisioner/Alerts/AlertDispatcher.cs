using System.Globalization;
using System.Text;
using Ctrlable.Provisioner.Platform;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>
/// Delivers the notifications in <c>alert_outbox</c>: woken by <see cref="AlertEvents"/> and at least every
/// <see cref="AlertsOptions.PollInterval"/>. Per target at most <see cref="AlertsOptions.MaxPerTargetPerHour"/> messages an
/// hour: when more are owed than the hour allows, they wait and then go out as one summary. A failed delivery is tried
/// again after an exponential back-off with jitter on the injected clock (persisted, so a restart neither loses nor
/// hurries it), up to <see cref="AlertsOptions.MaxAttempts"/>.
/// </summary>
public sealed class AlertDispatcher(
    AlertOutbox outbox,
    AlertTargetStore targets,
    IEnumerable<IAlertSender> senders,
    IOptions<AlertsOptions> options,
    TimeProvider time,
    ILogger<AlertDispatcher> logger) : BackgroundService
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private readonly SemaphoreSlim _wake = new(0);
    private readonly Dictionary<string, IAlertSender> _senders = senders.ToDictionary(s => s.Kind, StringComparer.Ordinal);
    private long _rounds;

    /// <summary>Rounds finished so far (a test waits for one after moving a fake clock).</summary>
    internal long Rounds => Interlocked.Read(ref _rounds);

    /// <summary>Looks at the outbox now (a notification was queued).</summary>
    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>Sends <paramref name="notification"/> to <paramref name="target"/> now, once (the "Send test" button).</summary>
    public async Task<DeliveryAnswer> SendAsync(AlertTarget target, AlertNotification notification, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(options.Value.AttemptTimeout);
        try
        {
            return await _senders[target.Kind].SendAsync(target, notification, limit.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new DeliveryAnswer(false, $"No answer within {options.Value.AttemptTimeout.TotalSeconds:0} s.");
        }
    }

    /// <summary>The notification as a target receives it.</summary>
    public AlertNotification Render(OwedNotification owed)
    {
        var settings = options.Value;
        var resolved = owed.State == "resolved";
        return new AlertNotification(
            owed.Kind,
            owed.Severity,
            owed.State,
            owed.Subject,
            resolved ? $"Resolved: {owed.Title}" : owed.Title,
            resolved ? owed.ResolvedDetail ?? "The condition cleared." : owed.Detail,
            SiteName(settings),
            owed.ProjectId is { } project ? new AlertProject(project, owed.ProjectName) : null,
            owed.InstanceId is { } instance ? new AlertInstance(instance, owed.InstanceName) : null,
            resolved ? owed.ResolvedAt ?? owed.OpenedAt : owed.OpenedAt,
            Link(settings, owed.LinkPath));
    }

    public static string SiteName(AlertsOptions settings) => settings.SiteName.Length > 0 ? settings.SiteName : Environment.MachineName;

    public static string? Link(AlertsOptions settings, string? path) =>
        settings.OrchestratorUrl.Length == 0 ? null : settings.OrchestratorUrl.TrimEnd('/') + (path ?? "/");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = options.Value.PollInterval;
            try
            {
                var next = await RoundAsync(stoppingToken);
                if (next is { } due && due - time.GetUtcNow() < wait)
                {
                    wait = due - time.GetUtcNow();
                }
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex)
            {
                // A busy database must not stop the host; the outbox is still there next round.
                logger.LogError(ex, "Alert delivery could not use the database; trying again shortly");
            }

            Interlocked.Increment(ref _rounds);
            await SleepAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, stoppingToken);
        }
    }

    /// <summary>One pass over every target with something due; returns when the next thing is due (a retry, or an hour's room).</summary>
    internal async Task<DateTimeOffset?> RoundAsync(CancellationToken ct)
    {
        var settings = options.Value;
        DateTimeOffset? next = null;
        foreach (var targetId in await outbox.TargetsDueAsync(time.GetUtcNow(), ct))
        {
            if (await targets.GetAsync(targetId, ct) is not { } target)
            {
                continue;
            }

            var now = time.GetUtcNow();
            var owed = await outbox.DueAsync(targetId, now, ct);
            if (owed.Count == 0)
            {
                continue;
            }

            var (sent, oldest) = await outbox.SentSinceAsync(targetId, now - Hour, ct);
            var room = settings.MaxPerTargetPerHour - sent;
            if (room <= 0)
            {
                // The hour is used up: everything owed waits for room, then goes out as one summary.
                var free = (oldest ?? now) + Hour;
                next = next is null || free < next ? free : next;
                logger.LogDebug("Target {Target} reached its hourly limit; {Count} notification(s) wait until {Free:o}", target.Name, owed.Count, free);
                continue;
            }

            if (owed.Count <= room)
            {
                foreach (var one in owed)
                {
                    await DeliverAsync(target, [one], Render(one), ct);
                }
            }
            else
            {
                await DeliverAsync(target, owed, Summary(owed, settings), ct);
            }
        }

        var retry = await outbox.NextRetryAsync(time.GetUtcNow(), ct);
        return retry is not null && (next is null || retry < next) ? retry : next;
    }

    private async Task DeliverAsync(AlertTarget target, IReadOnlyList<OwedNotification> owed, AlertNotification notification, CancellationToken ct)
    {
        var answer = await SendAsync(target, notification, ct);
        var now = time.GetUtcNow();
        var ids = owed.Select(o => o.Id).ToList();
        if (answer.Delivered)
        {
            await outbox.MarkSentAsync(target.Id, ids, answer.Answer, now, ct);
            logger.LogInformation("Alert {Event} ({State}) {Subject} delivered to {Target}: {Answer}", notification.Event, notification.State, notification.Subject, target.Name, answer.Answer);
            return;
        }

        var attempts = owed.Max(o => o.Attempts) + 1;
        var settings = options.Value;
        if (attempts >= settings.MaxAttempts)
        {
            await outbox.MarkFailedAsync(ids, answer.Answer, now, null, ct);
            logger.LogError("Alert {Event} {Subject} to {Target} given up after {Attempts} attempt(s): {Answer}", notification.Event, notification.Subject, target.Name, attempts, answer.Answer);
            return;
        }

        var delay = PlatformBackoff.Delay((int)attempts, settings.RetryBaseDelay, settings.RetryMaxDelay, Random.Shared);
        await outbox.MarkFailedAsync(ids, answer.Answer, now, now + delay, ct);
        // One warning when a delivery starts failing, then quiet.
        logger.Log(attempts == 1 ? LogLevel.Warning : LogLevel.Debug, "Alert {Event} {Subject} not delivered to {Target}: {Answer}; next attempt in {Delay}",
            notification.Event, notification.Subject, target.Name, answer.Answer, delay);
    }

    /// <summary>One message for notifications the hourly limit held back: a line each, oldest first.</summary>
    private AlertNotification Summary(IReadOnlyList<OwedNotification> owed, AlertsOptions settings)
    {
        var detail = new StringBuilder();
        foreach (var one in owed)
        {
            var rendered = Render(one);
            detail.Append(CultureInfo.InvariantCulture, $"[{rendered.State}] {rendered.Severity} {rendered.Event} {rendered.Subject}: {rendered.Title} ({rendered.At:u})").Append('\n');
        }

        var severity = owed.Any(o => o.Severity == AlertSeverities.Critical) ? AlertSeverities.Critical : AlertSeverities.Warning;
        return new AlertNotification(AlertKinds.Summary, severity, owed.Any(o => o.State == "open") ? "open" : "resolved",
            $"{owed.Count} notifications", $"{owed.Count} notifications held back by the hourly limit ({settings.MaxPerTargetPerHour} per target)",
            detail.ToString().TrimEnd('\n'), SiteName(settings), null, null, time.GetUtcNow(), Link(settings, "/settings/alerts"));
    }

    private async Task SleepAsync(TimeSpan delay, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var woken = _wake.WaitAsync(linked.Token);
        var slept = Task.Delay(delay, time, linked.Token);
        await Task.WhenAny(woken, slept);
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

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
