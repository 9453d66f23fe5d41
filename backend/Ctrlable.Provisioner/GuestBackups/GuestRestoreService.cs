using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.GuestBackups;

/// <summary>
/// Restores one of the orchestrator's backups of a project's guest into a NEW guest (a VMID from the deploy allocator,
/// the product's pool, the restore's own marker) and, at start, finishes restores a stopped process left unfinished.
/// The original guest is never touched (SPEC §8h).
/// </summary>
public sealed class GuestRestoreService(
    GuestBackupRepository repository,
    InstanceRepository instances,
    GuestLocator locator,
    VmidAllocator vmids,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    IOptions<GuestBackupsOptions> options,
    IOptions<ProxmoxOptions> proxmoxOptions,
    IHostApplicationLifetime lifetime,
    ILogger<GuestRestoreService> logger)
{
    /// <summary>The marker a restored guest carries in its description (the restore's own nonce).</summary>
    public static string RestoreMarker(GuestRestoreRow restore) => $"restore #{restore.Id} [{restore.OwnerNonce}]";

    private TimeSpan TaskTimeout => TimeSpan.FromMinutes(options.Value.TaskTimeoutMinutes);

    /// <summary>
    /// Restores one of the orchestrator's archives of <paramref name="instanceId"/>'s guest into a NEW guest: a VMID from
    /// the deploy allocator (reserved first), <c>unique=1</c>, the product's pool, then the restore's marker written into
    /// the new guest's description. The original guest is not touched; the dealer decides what to do with both.
    /// </summary>
    public async Task<(GuestRestoreRow? Restore, Refusal? Refusal)> RestoreAsync(long projectId, long instanceId, string volid, string? actor, CancellationToken ct)
    {
        var (project, settings, refusal) = GuestBackupService.WithBackups(projectId, await instances.GetProjectAsync(projectId, ct));
        if (refusal is not null)
        {
            return (null, refusal);
        }

        var instance = await instances.GetAsync(instanceId, ct);
        if (instance is null || instance.ProjectId != projectId || instance.Vmid is null || instance.Node is null)
        {
            return (null, new Refusal(404, "Instance not found", $"Project {projectId} has no instance {instanceId} with a guest."));
        }

        // The archive is read, and the new guest restored, on the node the original guest is on now (its recorded one when it is gone).
        instance = await locator.LocateAsync(instance, ct);
        var schedule = await repository.EnsureScheduleAsync(projectId, GuestBackupService.ScheduleKey(settings), project!.UpdatedAt, ct);
        var storage = volid.Split(':')[0];
        var archive = (await proxmox.GetBackupsAsync(instance.Node!, storage, (int)instance.Vmid!.Value, ct))
            .FirstOrDefault(b => b.Volid == volid && b.Vmid == instance.Vmid && b.Notes?.Contains(GuestBackupService.Marker(projectId, schedule.Nonce), StringComparison.Ordinal) == true);
        if (archive is null)
        {
            var detail = $"{volid} is not one of the orchestrator's backups of {instance.Hostname} (VMID {instance.Vmid}).";
            return (null, new Refusal(400, "Not a backup of this guest", detail, new Dictionary<string, string[]> { ["volid"] = [detail] }));
        }

        var kind = GuestOwnership.KindOf(instance);
        var restore = await repository.InsertRestoreAsync(projectId, instanceId, volid, kind == GuestKind.Lxc ? "lxc" : "qemu", instance.Node!, actor, ct);
        _ = Task.Run(() => ExecuteRestoreAsync(restore, instance, project!, lifetime.ApplicationStopping), CancellationToken.None);
        return (restore, null);
    }

    /// <summary>Restores found unfinished at start: a recorded UPID is waited for and finished; without one nothing is asked again.</summary>
    public async Task ResumeRestoresAsync(CancellationToken ct)
    {
        foreach (var restore in await repository.ListUnfinishedRestoresAsync(ct))
        {
            if (restore.Upid is null || restore.Vmid is null)
            {
                await repository.FinishRestoreAsync(restore.Id, false,
                    $"Interrupted before Proxmox confirmed the restore{(restore.Vmid is { } v ? $" into VMID {v}" : "")}; it was not asked again and anything at that VMID is left as it is.", ct);
                continue;
            }

            var instance = await instances.GetAsync(restore.SourceInstanceId, ct);
            await FinishRestoreTaskAsync(restore, instance, ct);
        }
    }

    private async Task ExecuteRestoreAsync(GuestRestoreRow restore, InstanceRow instance, ProjectRow project, CancellationToken ct)
    {
        try
        {
            var vmid = await vmids.AllocateAsync((candidate, token) => repository.TryReserveRestoreVmidAsync(restore.Id, candidate, token),
                token => repository.TryReserveRestoreVmidAsync(restore.Id, null, token), ct);
            if (vmid is null)
            {
                await repository.FinishRestoreAsync(restore.Id, false, "No VMID could be reserved (taken meanwhile); try again.", ct);
                return;
            }

            restore = restore with { Vmid = vmid };
            var targetStorage = SiteSettings.FromJson(project.SettingsJson).Storage ?? proxmoxOptions.Value.Storage;
            var upid = await proxmox.RestoreAsync(restore.Node, GuestOwnership.KindOf(instance), (int)vmid.Value, restore.Volid, targetStorage, proxmoxOptions.Value.Pool, ct);
            await repository.SetRestoreUpidAsync(restore.Id, upid, ct);
            await FinishRestoreTaskAsync(restore with { Upid = upid }, instance, ct);
        }
        catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException)
        {
            logger.LogWarning(ex, "Restore {Restore} of {Volid} failed", restore.Id, restore.Volid);
            await repository.FinishRestoreAsync(restore.Id, false, ex.Message, CancellationToken.None);
        }
    }

    /// <summary>Waits for the restore's own task; once it succeeded the guest at the VMID is the one it made, and gets the restore's marker.</summary>
    private async Task FinishRestoreTaskAsync(GuestRestoreRow restore, InstanceRow? instance, CancellationToken ct)
    {
        var outcome = await tasks.WaitAsync(restore.Node, restore.Upid!, TaskTimeout, ct);
        if (!outcome.Succeeded)
        {
            await repository.FinishRestoreAsync(restore.Id, false, $"The restore failed: {outcome.Describe()}", ct);
            return;
        }

        // The archive brought the original's description (and its marker): the new guest gets its own instead.
        var kind = restore.Kind == "lxc" ? GuestKind.Lxc : GuestKind.Qemu;
        var description = $"Ctrlable {RestoreMarker(restore)}: {instance?.Hostname ?? "a guest"} (instance #{restore.SourceInstanceId}) of project #{restore.ProjectId} restored from {restore.Volid}. The original guest was left as it is. Managed by Ctrlable Provisioner.";
        await proxmox.UpdateConfigAsync(restore.Node, kind, (int)restore.Vmid!.Value, new Dictionary<string, string> { ["description"] = description }, null, null, ct);
        await repository.FinishRestoreAsync(restore.Id, true, null, ct);
        logger.LogInformation("Restored {Volid} into the new guest {Vmid} (restore {Restore})", restore.Volid, restore.Vmid, restore.Id);
    }
}
