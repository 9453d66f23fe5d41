using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>An upgrade step failed for a reason the dealer is shown ("upgrade to X failed: …, rolled back").</summary>
public sealed class UpgradeFailedException(string message) : Exception(message);

/// <summary>
/// The upgrade's steps, run by the deploy runner (one pipeline per instance; resumed after a restart) for instances
/// <c>upgrading</c> or <c>rolling-back</c>: snapshot → apply → health → record, and on a failure rollback to the snapshot.
/// Each step records what it did in <c>instance_upgrades</c> and starts by looking at what Proxmox (or the app) holds, so a
/// restarted orchestrator converges: a snapshot is named before it is asked for and found again, a rollback or start is
/// done once. Nothing is done to a guest that does not carry the instance's marker (<see cref="GuestOwnership"/>).
/// </summary>
public sealed class UpgradePipeline(
    UpgradeRepository upgrades,
    InstanceRepository instances,
    InstanceTransitions transitions,
    InstanceSteps steps,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    GuestTasks guests,
    GuestLocator locator,
    HomeAssistantUpgrade homeAssistant,
    GuestUpgrade guestUpgrade,
    UpgradeHealth health,
    ILogger<UpgradePipeline> logger) : IInstanceStepHandler
{
    /// <summary>Who moves an instance through an upgrade, in its history.</summary>
    public const string Source = "upgrade";

    /// <summary>Crash-test points inside the steps.</summary>
    public const string SnapshotRequested = "upgrade-snapshot-requested";
    public const string SnapshotTaken = "upgrade-snapshot-taken";
    public const string Applied = "upgrade-applied";
    public const string Healthy = "upgrade-healthy";
    public const string Recorded = "upgrade-recorded";
    public const string RollbackRequested = "upgrade-rollback-requested";
    public const string RolledBack = "upgrade-rolled-back";

    public bool Handles(string state) => InstanceStates.IsUpgrade(state);

    public async Task StepAsync(InstanceRow instance, bool reconcile, CancellationToken ct)
    {
        if (await upgrades.LatestAsync(instance.Id, ct) is not { } upgrade)
        {
            // Cannot happen (the upgrade is recorded before the instance moves); say so rather than loop.
            await MoveAsync(instance, InstanceStates.Active, "Upgrade record missing; nothing was changed", error: "The orchestrator holds no record of this upgrade.", ct);
            return;
        }

        if (!upgrade.IsOpen)
        {
            // Recorded as ended before the instance moved (a restart in between): finish the move.
            await EndAsync(instance, upgrade, ct);
            return;
        }

        (instance, upgrade) = await LocateAsync(instance, upgrade, ct);
        if (upgrade.Step == UpgradeSteps.Rollback || instance.State == InstanceStates.RollingBack)
        {
            await RollBackAsync(instance, upgrade, reconcile, ct);
            return;
        }

        if (!await IsOursAsync(instance, upgrade, ct))
        {
            return;
        }

        switch (upgrade.Step)
        {
            case UpgradeSteps.Snapshot:
                await SnapshotAsync(instance, upgrade, reconcile, ct);
                break;
            case UpgradeSteps.Apply:
                await (upgrade.Kind == "vm" ? homeAssistant.ApplyAsync(instance, upgrade, ct) : guestUpgrade.ApplyAsync(instance, upgrade, ct));
                await upgrades.SetAppliedAsync(upgrade.Id, ct);
                await steps.PointAsync(instance.Id, Applied, ct);
                await steps.SayAsync(instance, $"Upgrading to {upgrade.ToRelease}: checking the app", ct);
                break;
            case UpgradeSteps.Health:
                await health.WaitHealthyAsync(instance, upgrade, ct);
                await upgrades.SetStepAsync(upgrade.Id, UpgradeSteps.Record, ct);
                await steps.PointAsync(instance.Id, Healthy, ct);
                break;
            case UpgradeSteps.Record:
                await upgrades.FinishAsync(upgrade.Id, UpgradeOutcomes.Upgraded, null, ct);
                await steps.PointAsync(instance.Id, Recorded, ct);
                await EndAsync(instance, (await upgrades.GetAsync(upgrade.Id, ct))!, ct);
                break;
            default:
                throw new InvalidOperationException($"Upgrade {upgrade.Id} is at unknown step '{upgrade.Step}'.");
        }
    }

    public async Task FailedAsync(InstanceRow instance, Exception error, CancellationToken ct)
    {
        var upgrade = await upgrades.LatestAsync(instance.Id, ct);
        var reason = Reason(error);
        if (upgrade is null || !upgrade.IsOpen)
        {
            await MoveAsync(instance, InstanceStates.Failed, "Upgrade failed", reason, ct);
            return;
        }

        if (instance.State == InstanceStates.RollingBack || upgrade.Step == UpgradeSteps.Rollback)
        {
            // The rollback itself failed: the dealer must look; the snapshot stays (the sweep keeps it while the row is open).
            var why = $"Upgrade to {upgrade.ToRelease} failed ({upgrade.Reason}) and rolling back to snapshot '{upgrade.SnapshotName}' failed: {reason}. "
                + $"Roll the guest back by hand (Proxmox: VMID {upgrade.Vmid} → Snapshots → {upgrade.SnapshotName} → Rollback), then retry the instance.";
            await upgrades.FinishAsync(upgrade.Id, UpgradeOutcomes.Failed, why, ct);
            await MoveAsync(instance, InstanceStates.Failed, $"Upgrade to {upgrade.ToRelease} failed; rollback failed", why, ct);
            return;
        }

        (instance, upgrade) = await LocateAsync(instance, upgrade, ct);
        if (upgrade.Step == UpgradeSteps.Snapshot && upgrade.SnapshotTakenAt is null && !await SnapshotExistsAsync(upgrade, ct))
        {
            // Nothing was changed: no snapshot, no new version.
            await upgrades.FinishAsync(upgrade.Id, UpgradeOutcomes.Failed, reason, ct);
            await MoveAsync(instance, InstanceStates.Active, $"Upgrade to {upgrade.ToRelease} failed: {reason}; nothing was changed", reason, ct);
            return;
        }

        logger.LogWarning("Upgrade {Upgrade} of instance {Instance} ({Hostname}) failed at {Step}: {Reason}; rolling back", upgrade.Id, instance.Id, instance.Hostname, upgrade.Step, reason);
        await upgrades.StartRollbackAsync(upgrade.Id, reason, ct);
        await MoveAsync(instance, InstanceStates.RollingBack, $"Upgrade to {upgrade.ToRelease} failed: {reason}; rolling back to the snapshot", reason, ct);
    }

    // --- Steps ------------------------------------------------------------------------------------

    private async Task SnapshotAsync(InstanceRow instance, UpgradeRow upgrade, bool reconcile, CancellationToken ct)
    {
        var (node, kind, vmid) = Guest(upgrade);
        if (reconcile)
        {
            // A snapshot task asked for before a restart may still run (its UPID was never recorded): let it end first.
            await guests.WaitForRunningTasksAsync(node, vmid, ct);
        }

        if (!await SnapshotExistsAsync(upgrade, ct))
        {
            if (upgrade.WasRunning is null)
            {
                var running = (await proxmox.GetGuestStatusAsync(node, kind, (int)vmid, ct)).Status == "running";
                await upgrades.SetWasRunningAsync(upgrade.Id, running, ct);
            }

            var upid = instance.Upid ?? await proxmox.CreateSnapshotAsync(node, kind, (int)vmid, upgrade.SnapshotName,
                $"Ctrlable: before the upgrade of {instance.Hostname} from {upgrade.FromRelease} to {upgrade.ToRelease} (instance #{instance.Id})", ct);
            await steps.PointAsync(instance.Id, SnapshotRequested, ct);
            await MoveAsync(instance, InstanceStates.Upgrading, $"Upgrading to {upgrade.ToRelease}: taking snapshot '{upgrade.SnapshotName}'", null, ct, upid);
            var outcome = await tasks.WaitAsync(node, upid, guests.TaskTimeout, ct);
            if (!outcome.Succeeded && !await SnapshotExistsAsync(upgrade, ct))
            {
                throw new UpgradeFailedException($"Proxmox could not take the snapshot: {outcome.Describe()}");
            }
        }

        await upgrades.SetSnapshotTakenAsync(upgrade.Id, ct);
        await upgrades.SetStepAsync(upgrade.Id, UpgradeSteps.Apply, ct);
        await steps.PointAsync(instance.Id, SnapshotTaken, ct);
        await MoveAsync(instance, InstanceStates.Upgrading, $"Upgrading to {upgrade.ToRelease}: {(upgrade.Kind == "vm" ? "updating Home Assistant" : "waiting for the guest to run its update")}", null, ct);
    }

    private async Task RollBackAsync(InstanceRow instance, UpgradeRow upgrade, bool reconcile, CancellationToken ct)
    {
        var (node, kind, vmid) = Guest(upgrade);
        if (instance.State != InstanceStates.RollingBack)
        {
            await MoveAsync(instance, InstanceStates.RollingBack, $"Upgrade to {upgrade.ToRelease} failed: {upgrade.Reason}; rolling back to the snapshot", upgrade.Reason, ct);
            return;
        }

        if (!await IsOursAsync(instance, upgrade, ct))
        {
            return;
        }

        if (reconcile)
        {
            await guests.WaitForRunningTasksAsync(node, vmid, ct);
        }

        if (upgrade.RolledBackAt is null)
        {
            if (upgrade.SnapshotTakenAt is null && !await SnapshotExistsAsync(upgrade, ct))
            {
                throw new UpgradeFailedException($"snapshot '{upgrade.SnapshotName}' is not on the guest");
            }

            // Proxmox stops a running guest before it rolls back (AbstractConfig snapshot_rollback); running it twice is harmless.
            var upid = instance.Upid ?? await proxmox.RollbackSnapshotAsync(node, kind, (int)vmid, upgrade.SnapshotName, ct);
            await steps.PointAsync(instance.Id, RollbackRequested, ct);
            await MoveAsync(instance, InstanceStates.RollingBack, $"Rolling back to snapshot '{upgrade.SnapshotName}'", upgrade.Reason, ct, upid);
            var outcome = await tasks.WaitAsync(node, upid, guests.TaskTimeout, ct);
            if (!outcome.Succeeded)
            {
                throw new UpgradeFailedException($"Proxmox could not roll back: {outcome.Describe()}");
            }

            await upgrades.SetRolledBackAsync(upgrade.Id, ct);
            await steps.PointAsync(instance.Id, RolledBack, ct);
            await MoveAsync(instance, InstanceStates.RollingBack, "Rolled back", upgrade.Reason, ct);
            instance = await instances.GetAsync(instance.Id, ct) ?? instance;
        }

        // The guest ran before the upgrade: it runs again (a start recorded before a restart is waited for, not repeated).
        if (upgrade.WasRunning != false && !await IsRunningAsync(node, kind, vmid, ct))
        {
            if (instance.Upid is { } recorded)
            {
                await tasks.WaitAsync(node, recorded, guests.TaskTimeout, ct);
            }

            var upid = await IsRunningAsync(node, kind, vmid, ct) ? null : await StartGuestAsync(node, kind, vmid, ct);
            if (upid is not null)
            {
                await MoveAsync(instance, InstanceStates.RollingBack, "Rolled back; starting the guest again", upgrade.Reason, ct, upid);
                var outcome = await tasks.WaitAsync(node, upid, guests.TaskTimeout, ct);
                if (!outcome.Succeeded && !await IsRunningAsync(node, kind, vmid, ct))
                {
                    throw new UpgradeFailedException($"the guest was rolled back but did not start again: {outcome.Describe()}");
                }
            }
        }

        await upgrades.FinishAsync(upgrade.Id, UpgradeOutcomes.RolledBack, null, ct);
        await EndAsync(instance, (await upgrades.GetAsync(upgrade.Id, ct))!, ct);
    }

    /// <summary>The instance leaves the upgrade as the recorded outcome says.</summary>
    private async Task EndAsync(InstanceRow instance, UpgradeRow upgrade, CancellationToken ct)
    {
        switch (upgrade.Outcome)
        {
            case UpgradeOutcomes.Upgraded:
                var versions = upgrade.GuestVersions is { } reported ? Merge(instance.InstalledVersions, reported) : null;
                await transitions.MoveAsync(instance.Id, new Transition(InstanceStates.Active, $"Upgraded from {upgrade.FromRelease} to {upgrade.ToRelease}")
                {
                    From = [InstanceStates.Upgrading, InstanceStates.RollingBack],
                    Release = upgrade.ToRelease,
                    Versions = versions,
                    Source = Source,
                }, ct);
                logger.LogInformation("Instance {Instance} ({Hostname}) upgraded to {Release}", instance.Id, instance.Hostname, upgrade.ToRelease);
                break;
            case UpgradeOutcomes.RolledBack:
                await MoveAsync(instance, InstanceStates.Active, $"Upgrade to {upgrade.ToRelease} failed: {upgrade.Reason}; rolled back", upgrade.Reason, ct);
                break;
            default:
                await MoveAsync(instance, upgrade.RolledBackAt is null && upgrade.SnapshotTakenAt is null ? InstanceStates.Active : InstanceStates.Failed,
                    $"Upgrade to {upgrade.ToRelease} failed", upgrade.Reason, ct);
                break;
        }
    }

    // --- Helpers ----------------------------------------------------------------------------------

    /// <summary>
    /// Where the guest is now: Proxmox may have moved it since the upgrade started (its node recorded on the instance when
    /// it changed). The upgrade's snapshot, update, health check and rollback address that node; the upgrade row keeps the
    /// node it started on as history.
    /// </summary>
    private async Task<(InstanceRow Instance, UpgradeRow Upgrade)> LocateAsync(InstanceRow instance, UpgradeRow upgrade, CancellationToken ct)
    {
        var located = await locator.LocateAsync(instance, ct);
        return (located, located.Node is { } node && located.Vmid == upgrade.Vmid ? upgrade with { Node = node } : upgrade);
    }

    /// <summary>Only the instance's own guest is snapshotted, updated or rolled back.</summary>
    private async Task<bool> IsOursAsync(InstanceRow instance, UpgradeRow upgrade, CancellationToken ct)
    {
        var (node, kind, vmid) = Guest(upgrade);
        if (GuestOwnership.Carries(await proxmox.GetGuestConfigAsync(node, kind, (int)vmid, ct), instance))
        {
            return true;
        }

        var why = GuestOwnership.NotOurs(vmid) + " The upgrade stopped; nothing was done to that guest.";
        await upgrades.FinishAsync(upgrade.Id, UpgradeOutcomes.Failed, why, ct);
        await MoveAsync(instance, InstanceStates.Failed, "Not this instance's guest", why, ct);
        return false;
    }

    private async Task<bool> SnapshotExistsAsync(UpgradeRow upgrade, CancellationToken ct)
    {
        var (node, kind, vmid) = Guest(upgrade);
        return (await proxmox.ListSnapshotsAsync(node, kind, (int)vmid, ct)).Any(s => s.Name == upgrade.SnapshotName);
    }

    private async Task<bool> IsRunningAsync(string node, GuestKind kind, long vmid, CancellationToken ct) =>
        (await proxmox.GetGuestStatusAsync(node, kind, (int)vmid, ct)).Status == "running";

    private async Task<string?> StartGuestAsync(string node, GuestKind kind, long vmid, CancellationToken ct)
    {
        try
        {
            return await proxmox.StartAsync(node, kind, (int)vmid, ct);
        }
        catch (ProxmoxException ex) when (ex.ProxmoxMessage.Contains("already running", StringComparison.Ordinal))
        {
            return null;
        }
    }

    private Task<bool> MoveAsync(InstanceRow instance, string state, string message, string? error, CancellationToken ct, string? upid = null) =>
        transitions.MoveAsync(instance.Id, new Transition(state, message)
        {
            From = [InstanceStates.Upgrading, InstanceStates.RollingBack],
            Upid = upid,
            Error = error,
            Source = Source,
        }, ct);

    private static (string Node, GuestKind Kind, long Vmid) Guest(UpgradeRow upgrade) =>
        (upgrade.Node, upgrade.Kind == "vm" ? GuestKind.Qemu : GuestKind.Lxc, upgrade.Vmid);

    private static string Reason(Exception error) => error switch
    {
        ProxmoxException p => $"Proxmox: {p.ProxmoxMessage}",
        _ => error.Message,
    };

    /// <summary>The guest's report over what it reported before (the first boot's protocol version stays unless reported anew).</summary>
    private static string Merge(string? before, string reported)
    {
        var merged = before is null ? [] : System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(before) ?? [];
        foreach (var (app, version) in System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(reported) ?? [])
        {
            merged[app] = version;
        }

        return System.Text.Json.JsonSerializer.Serialize(merged);
    }
}
