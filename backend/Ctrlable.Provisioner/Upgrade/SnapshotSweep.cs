using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>
/// Deletes an upgrade's snapshot <see cref="UpgradeOptions.KeepSnapshotDays"/> after the upgrade ended. Only the snapshot
/// the orchestrator named (recorded on the upgrade, prefixed <c>ctrlable-upgrade-</c>), only on the instance's own guest (it
/// carries the instance's marker): any other snapshot, and any guest that is not the instance's, is left alone.
/// </summary>
public sealed class SnapshotSweep(
    UpgradeRepository upgrades,
    InstanceRepository instances,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    GuestTasks guests,
    GuestOwnership ownership,
    GuestLocator locator,
    IOptions<UpgradeOptions> options,
    TimeProvider time,
    ILogger<SnapshotSweep> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(options.Value.SweepIntervalMinutes), time);
        do
        {
            try
            {
                await SweepAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException or ProxmoxCertificateException or Polly.Timeout.TimeoutRejectedException)
            {
                // Proxmox away: the next round tries again.
                logger.LogWarning("Snapshot sweep stopped: {Reason}", ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One round as at <paramref name="now"/>: returns how many snapshots were deleted.</summary>
    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken ct)
    {
        var deleted = 0;
        foreach (var upgrade in await upgrades.ListExpiredSnapshotsAsync(now.AddDays(-options.Value.KeepSnapshotDays), ct))
        {
            if (!upgrade.SnapshotName.StartsWith(UpgradeRepository.SnapshotPrefix, StringComparison.Ordinal))
            {
                await upgrades.SetSnapshotKeptAsync(upgrade.Id, "not a name the orchestrator gives", ct);
                continue;
            }

            var instance = await instances.GetAsync(upgrade.InstanceId, ct);
            if (instance is null || instance.State == InstanceStates.Deleted || instance.Vmid != upgrade.Vmid)
            {
                // The guest went with its instance (its snapshots with it), or the instance moved to another guest.
                await upgrades.SetSnapshotDeletedAsync(upgrade.Id, ct);
                continue;
            }

            if (InstanceStates.IsUpgrade(instance.State))
            {
                continue;
            }

            var kind = upgrade.Kind == "vm" ? GuestKind.Qemu : GuestKind.Lxc;
            // Found by its VMID cluster-wide: a guest Proxmox moved since the upgrade keeps its snapshots on its new node.
            var guest = await guests.FindGuestAsync(upgrade.Vmid, ct);
            if (guest?.Node is null || !await ownership.IsOursAsync(guest, instance, ct))
            {
                logger.LogWarning("Snapshot {Snapshot} of upgrade {Upgrade}: VMID {Vmid} does not hold instance {Instance}'s guest; left alone", upgrade.SnapshotName, upgrade.Id, upgrade.Vmid, instance.Id);
                await upgrades.SetSnapshotKeptAsync(upgrade.Id, GuestOwnership.NotOurs(upgrade.Vmid), ct);
                continue;
            }

            var node = (await locator.FollowAsync(instance, guest, ct)).Node!;
            if ((await proxmox.ListSnapshotsAsync(node, kind, (int)upgrade.Vmid, ct)).All(s => s.Name != upgrade.SnapshotName))
            {
                await upgrades.SetSnapshotDeletedAsync(upgrade.Id, ct);
                continue;
            }

            var upid = await proxmox.DeleteSnapshotAsync(node, kind, (int)upgrade.Vmid, upgrade.SnapshotName, ct);
            var outcome = await tasks.WaitAsync(node, upid, guests.TaskTimeout, ct);
            if (outcome.Succeeded)
            {
                await upgrades.SetSnapshotDeletedAsync(upgrade.Id, ct);
                logger.LogInformation("Deleted snapshot {Snapshot} of {Hostname} (upgrade {Upgrade}, ended {Finished})", upgrade.SnapshotName, instance.Hostname, upgrade.Id, upgrade.FinishedAt);
                deleted++;
            }
            else
            {
                logger.LogWarning("Deleting snapshot {Snapshot} of {Hostname} failed: {Reason}; the next round tries again", upgrade.SnapshotName, instance.Hostname, outcome.Describe());
            }
        }

        return deleted;
    }
}
