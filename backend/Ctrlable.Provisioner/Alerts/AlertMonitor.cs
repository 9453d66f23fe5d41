using System.Threading.Channels;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tls;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>
/// Turns what the orchestrator sees into incidents. Instance failures come from the one stream of instance changes
/// (<see cref="InstanceChanges"/>; no polling of the database): a deploy step failing opens deploy-failed, an active
/// instance (or a delete) failing opens instance-failed, and the instance becoming active or deleted resolves both. At
/// start, failed instances without an open incident get one (a crash between a failure and its alert loses nothing).
/// Every <see cref="AlertsOptions.CheckInterval"/>: guests stopped without a stop asked of the orchestrator, apps down
/// for <see cref="AlertsOptions.AppDownMinutes"/> (the dashboard's shared poll and app probes), reports to the platform
/// undelivered for <see cref="AlertsOptions.PlatformUnreachableHours"/>, and the TLS certificate's expiry.
/// </summary>
public sealed class AlertMonitor(
    AlertEvents alerts,
    InstanceChanges changes,
    InstanceRepository instances,
    DashboardService dashboard,
    GuestStopRequests stops,
    PlatformRepository platform,
    IOptions<PlatformOptions> platformOptions,
    TlsCertificate certificate,
    IOptions<AlertsOptions> options,
    TimeProvider time,
    ILogger<AlertMonitor> logger) : BackgroundService
{
    /// <summary>States a deploy passes through: failing from one of them is a failed deploy.</summary>
    private static readonly HashSet<string> Deploying =
    [
        InstanceStates.Pending, InstanceStates.Cloning, InstanceStates.Configuring, InstanceStates.Starting, InstanceStates.Waiting,
        InstanceStates.Personalising, InstanceStates.Locating, InstanceStates.Preparing, InstanceStates.Restoring, InstanceStates.Securing,
        InstanceStates.Wiring,
    ];

    /// <summary>States an upgrade passes through: leaving one with an error recorded is a failed upgrade.</summary>
    private static readonly HashSet<string> Upgrading = [InstanceStates.Upgrading, InstanceStates.RollingBack];

    private static readonly string[] FailureKinds = [AlertKinds.DeployFailed, AlertKinds.InstanceFailed, AlertKinds.UpgradeFailed];

    /// <summary>A stop asked for this long ago, with the guest seen running since, no longer explains a stopped guest.</summary>
    private static readonly TimeSpan StopRequestLifetime = TimeSpan.FromMinutes(5);

    private readonly Channel<InstanceChange> _changes = Channel.CreateUnbounded<InstanceChange>(new UnboundedChannelOptions { SingleReader = true });

    public static string InstanceSubject(long id) => $"instance/{id}";

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribed before the host serves: no change of this process is missed.
        _subscription = changes.Subscribe(change =>
        {
            if (change.To is InstanceStates.Failed or InstanceStates.Active or InstanceStates.Deleted && change.From != change.To)
            {
                _changes.Writer.TryWrite(change);
            }
        });
        return base.StartAsync(cancellationToken);
    }

    private IDisposable? _subscription;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.WhenAll(FollowChangesAsync(stoppingToken), CheckPeriodicallyAsync(stoppingToken));
    }

    private async Task FollowChangesAsync(CancellationToken ct)
    {
        try
        {
            await RaiseMissedFailuresAsync(ct);
            await foreach (var change in _changes.Reader.ReadAllAsync(ct))
            {
                try
                {
                    await OnChangeAsync(change, ct);
                }
                catch (Microsoft.Data.Sqlite.SqliteException ex)
                {
                    logger.LogError(ex, "Alert for instance {Instance} not recorded (database)", change.InstanceId);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task OnChangeAsync(InstanceChange change, CancellationToken ct)
    {
        var row = change.Instance;
        var name = row?.Hostname ?? $"instance {change.InstanceId}";
        if (row is not null && change.From is { } from && Upgrading.Contains(from) && row.Error is not null && change.To != InstanceStates.Deleted)
        {
            // Rolled back (or nothing changed): the guest runs its old release, a warning; a failed rollback leaves it failed.
            await alerts.RaiseAsync(await UpgradeFailureAsync(row, change.To == InstanceStates.Failed, ct), ct);
            return;
        }

        switch (change.To)
        {
            case InstanceStates.Failed when row is not null:
                await alerts.RaiseAsync(await FailureAsync(row, change.From is null || Deploying.Contains(change.From), ct), ct);
                break;
            case InstanceStates.Active:
                await alerts.ResolveInstanceAsync(change.InstanceId, FailureKinds, $"{name} is active.", ct);
                break;
            case InstanceStates.Deleted:
                await alerts.ResolveInstanceAsync(change.InstanceId, [], $"{name} was deleted.", ct);
                break;
        }
    }

    private Task<Incident> FailureAsync(InstanceRow row, bool deploying, CancellationToken ct)
    {
        var reason = row.Error ?? row.Message ?? "no reason recorded";
        return AboutAsync(row, deploying
            ? new Incident(AlertKinds.DeployFailed, InstanceSubject(row.Id), AlertSeverities.Critical, $"Deploy of {row.Hostname} failed", $"{row.Message}: {reason}")
            : new Incident(AlertKinds.InstanceFailed, InstanceSubject(row.Id), AlertSeverities.Critical, $"{row.Hostname} failed", $"{row.Message}: {reason}"), ct);
    }

    private Task<Incident> UpgradeFailureAsync(InstanceRow row, bool failed, CancellationToken ct) =>
        AboutAsync(row, failed
            ? new Incident(AlertKinds.UpgradeFailed, InstanceSubject(row.Id), AlertSeverities.Critical, $"Upgrade of {row.Hostname} failed and was not rolled back", row.Message ?? row.Error!)
            : new Incident(AlertKinds.UpgradeFailed, InstanceSubject(row.Id), AlertSeverities.Warning, $"Upgrade of {row.Hostname} failed", row.Message ?? row.Error!), ct);

    /// <summary>The incident names the instance and its project, and links the project's page.</summary>
    private async Task<Incident> AboutAsync(InstanceRow row, Incident incident, CancellationToken ct) => incident with
    {
        ProjectId = row.ProjectId,
        ProjectName = (await instances.GetProjectAsync(row.ProjectId, ct))?.Name,
        InstanceId = row.Id,
        InstanceName = row.Hostname,
        LinkPath = $"/projects/{row.ProjectId}",
    };

    /// <summary>Failed instances whose failure has no open incident (the process stopped between the two) get one.</summary>
    private async Task RaiseMissedFailuresAsync(CancellationToken ct)
    {
        foreach (var row in (await instances.ListLiveAsync(ct)).Where(i => i.State == InstanceStates.Failed))
        {
            var subject = InstanceSubject(row.Id);
            if (!await alerts.IsOpenAsync(AlertKinds.DeployFailed, subject, ct) && !await alerts.IsOpenAsync(AlertKinds.InstanceFailed, subject, ct))
            {
                await alerts.RaiseAsync(await FailureAsync(row, deploying: true, ct), ct);
            }
        }
    }

    private async Task CheckPeriodicallyAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(options.Value.CheckInterval, time, ct);
                try
                {
                    await CheckAsync(ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogError(ex, "Alert checks failed; trying again next round");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round of the periodic checks (guests and apps, platform, certificate).</summary>
    public async Task CheckAsync(CancellationToken ct)
    {
        await CheckGuestsAsync(ct);
        await CheckPlatformAsync(ct);
        await CheckCertificateAsync(ct);
    }

    private async Task CheckGuestsAsync(CancellationToken ct)
    {
        // WaitAsync: the shared poll may outlive this call; a stopping host must not wait for it.
        var (snapshot, _) = await dashboard.GetAsync(ct).WaitAsync(ct);
        if (snapshot is null || snapshot.Stale)
        {
            return; // Proxmox not readable: nothing is known about the guests (the dashboard says so)
        }

        var now = time.GetUtcNow();
        var requested = await stops.ListAsync(ct);
        var appDown = TimeSpan.FromMinutes(options.Value.AppDownMinutes);
        foreach (var project in snapshot.Projects)
        {
            foreach (var guest in project.Guests.Where(g => g.InstanceId is not null && g.InstanceState == InstanceStates.Active))
            {
                var id = guest.InstanceId!.Value;
                var subject = InstanceSubject(id);
                var stopAsked = requested.TryGetValue(id, out var at);
                if (guest.Status == "running")
                {
                    await alerts.ResolveAsync(AlertKinds.GuestStopped, subject, $"{guest.Name} is running again.", ct);
                    if (stopAsked && now - at > StopRequestLifetime)
                    {
                        await stops.ClearAsync(id, ct);
                    }
                }
                else if (!stopAsked)
                {
                    await alerts.RaiseAsync(new Incident(AlertKinds.GuestStopped, subject, AlertSeverities.Critical, $"{guest.Name} stopped unexpectedly",
                        $"Proxmox reports guest {guest.Vmid} ({guest.Name}) {guest.Status}; no stop was asked of the orchestrator.")
                    {
                        ProjectId = project.ProjectId,
                        ProjectName = project.Name,
                        InstanceId = id,
                        InstanceName = guest.Name,
                        LinkPath = $"/projects/{project.ProjectId}",
                    }, ct);
                }

                if (guest.App is { State: AppState.Down } app && now - app.Since >= appDown)
                {
                    await alerts.RaiseAsync(new Incident(AlertKinds.AppDown, subject, AlertSeverities.Critical, $"The app of {guest.Name} is down",
                        $"{app.Target}: {app.Detail} since {app.Since:u}.")
                    {
                        ProjectId = project.ProjectId,
                        ProjectName = project.Name,
                        InstanceId = id,
                        InstanceName = guest.Name,
                        LinkPath = $"/projects/{project.ProjectId}",
                    }, ct);
                }
                else if (guest.App is { State: AppState.Up } up)
                {
                    await alerts.ResolveAsync(AlertKinds.AppDown, subject, $"{up.Target} answers again ({up.Detail}).", ct);
                }
            }
        }
    }

    internal async Task CheckPlatformAsync(CancellationToken ct)
    {
        const string subject = "platform";
        var state = await platform.GetAsync(ct);
        var since = state.LastSuccessAt ?? state.EnrolledAt;
        var limit = TimeSpan.FromHours(options.Value.PlatformUnreachableHours);
        if (platformOptions.Value.IsConfigured && state.IsEnrolled && state.Failures > 0 && since is { } last && time.GetUtcNow() - last >= limit)
        {
            await alerts.RaiseAsync(new Incident(AlertKinds.PlatformUnreachable, subject, AlertSeverities.Warning, "The platform has not been reached",
                $"No report delivered since {last:u} ({state.Failures} failed attempt(s)); last error: {state.LastError ?? "none"}.")
            { LinkPath = "/settings" }, ct);
        }
        else if (!state.IsEnrolled || state.Failures == 0)
        {
            await alerts.ResolveAsync(AlertKinds.PlatformUnreachable, subject, state.IsEnrolled ? "Reports are delivered again." : "The site is no longer enrolled.", ct);
        }
    }

    internal async Task CheckCertificateAsync(CancellationToken ct)
    {
        var cert = certificate.Certificate;
        const string subject = "certificate";
        var left = new DateTimeOffset(cert.NotAfter.ToUniversalTime()) - time.GetUtcNow();
        if (left <= TimeSpan.FromDays(options.Value.CertificateExpiryDays))
        {
            await alerts.RaiseAsync(new Incident(AlertKinds.CertificateExpiry, subject, left <= TimeSpan.Zero ? AlertSeverities.Critical : AlertSeverities.Warning,
                left <= TimeSpan.Zero ? "The orchestrator's TLS certificate has expired" : $"The orchestrator's TLS certificate expires in {Math.Max(0, (int)left.TotalDays)} day(s)",
                $"Valid until {cert.NotAfter.ToUniversalTime():u} ({certificate.Source}); replace it (Tls:CertificatePath) before browsers and guests refuse it.")
            { LinkPath = "/settings" }, ct);
        }
        else
        {
            await alerts.ResolveAsync(AlertKinds.CertificateExpiry, subject, "The certificate is valid for long enough.", ct);
        }
    }

    public override void Dispose()
    {
        _subscription?.Dispose();
        base.Dispose();
    }
}
