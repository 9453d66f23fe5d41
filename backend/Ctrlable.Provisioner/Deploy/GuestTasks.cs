using System.Net;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Waiting on a guest's Proxmox side for the deploy steps: its lock released, its running tasks ended, the guest at a VMID
/// once settled; and destroying it, only when it carries the instance's marker (<see cref="GuestOwnership"/>).
/// </summary>
public sealed class GuestTasks(
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    GuestOwnership ownership,
    IOptions<DeployOptions> deployOptions,
    TimeProvider time,
    ILogger<GuestTasks> logger)
{
    /// <summary>The longest wait for one Proxmox task (Deploy:TaskTimeoutSeconds).</summary>
    public TimeSpan TaskTimeout => TimeSpan.FromSeconds(deployOptions.Value.TaskTimeoutSeconds);

    /// <summary>
    /// Waits for the guest's tasks still running on the node (its start, stop, destroy or a config task), whoever asked:
    /// after a restart one of ours may be in flight with its UPID never recorded, and acting on the guest before it ends
    /// would race it. Its outcome is read from the guest afterwards. Returns how many were waited for.
    /// </summary>
    public async Task<int> WaitForRunningTasksAsync(string node, long vmid, CancellationToken ct, params string[] types)
    {
        var waited = 0;
        foreach (var task in await proxmox.GetRunningTasksAsync(node, (int)vmid, ct))
        {
            if (types.Length > 0 && !types.Contains(task.Type, StringComparer.Ordinal))
            {
                continue;
            }

            logger.LogInformation("Waiting for Proxmox task {Upid} ({Type} {Id}) to end before going on", task.Upid, task.Type, task.Id);
            await tasks.WaitAsync(node, task.Upid, TaskTimeout, ct);
            waited++;
        }

        return waited;
    }

    /// <summary>Stops and destroys <paramref name="guest"/> when it is the instance's (checked here, right before); false when not.</summary>
    public async Task<bool> DestroyIfOursAsync(InstanceRow instance, ClusterResource guest, CancellationToken ct)
    {
        if (!await ownership.IsOursAsync(guest, instance, ct))
        {
            return false;
        }

        await DestroyAsync(guest.Node!, GuestOwnership.KindOf(instance), guest.Vmid!.Value, ct);
        return true;
    }

    private async Task DestroyAsync(string node, GuestKind kind, int vmid, CancellationToken ct)
    {
        var guest = $"/nodes/{node}/{kind.ToString().ToLowerInvariant()}/{vmid}";
        var status = await proxmox.GetGuestStatusAsync(node, kind, vmid, ct);
        if (status.Status == "running")
        {
            EnsureSucceeded(await tasks.WaitAsync(node, await proxmox.StopAsync(node, kind, vmid, ct), TaskTimeout, ct), "POST", guest + "/status/stop");
        }

        EnsureSucceeded(await tasks.WaitAsync(node, await proxmox.DeleteAsync(node, kind, vmid, ct), TaskTimeout, ct), "DELETE", guest);
    }

    /// <summary>A task that ended badly fails the step with Proxmox's own words, like a refused request would.</summary>
    private static void EnsureSucceeded(TaskOutcome outcome, string method, string path)
    {
        if (!outcome.Succeeded)
        {
            throw new ProxmoxException(HttpStatusCode.InternalServerError, method, path, outcome.Describe(), new Dictionary<string, string>());
        }
    }

    public async Task<ClusterResource?> FindGuestAsync(long vmid, CancellationToken ct) =>
        (await proxmox.GetClusterResourcesAsync("vm", ct)).FirstOrDefault(r => r.Vmid == vmid);

    /// <summary>
    /// The guest with this VMID once no task holds it: a clone still running shows only its lock (and no name
    /// yet), so whose guest it is can be told only after the lock is gone. Proxmox adds a clone to its pool only
    /// when the clone task ends, so until then the token cannot see it at all: while the VMID is taken by a guest
    /// the token cannot see, the clones of the instance's template still running on its node (a clone task's id is
    /// its source's VMID) are waited for — one may be the clone a stopped orchestrator asked for — and then it is looked
    /// for once more. Null when the VMID is free, or taken by a guest the token still cannot see (not ours).
    /// </summary>
    public async Task<ClusterResource?> FindSettledGuestAsync(long vmid, GuestKind kind, string? node, long? templateVmid, CancellationToken ct)
    {
        var guest = await FindGuestAsync(vmid, ct);
        if (guest is null)
        {
            if (await proxmox.IsVmidFreeAsync((int)vmid, ct))
            {
                return null;
            }

            if (node is not null && templateVmid is not null)
            {
                // A clone task runs on its template's node, which may not be the node the guest goes to.
                var templateNode = (await FindGuestAsync(templateVmid.Value, ct))?.Node ?? node;
                await WaitForRunningTasksAsync(templateNode, templateVmid.Value, ct, "vzclone", "qmclone");
            }

            // Looked for again even when no clone ran: one may have ended just now (it joins the pool before its task ends).
            if ((guest = await FindGuestAsync(vmid, ct)) is null)
            {
                return null;
            }
        }

        // The guest's own kind: another guest at the VMID may be a VM where the instance is a container.
        await WaitUntilUnlockedAsync(guest.Node!, guest.Kind ?? kind, (int)vmid, ct);
        return await FindGuestAsync(vmid, ct);
    }

    /// <summary>Waits until Proxmox has released a guest's lock (a clone task still running, e.g. after a restart).</summary>
    public async Task WaitUntilUnlockedAsync(string node, GuestKind kind, int vmid, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + TaskTimeout;
        while ((await proxmox.GetGuestStatusAsync(node, kind, vmid, ct)).Lock is { Length: > 0 } held)
        {
            if (time.GetUtcNow() > deadline)
            {
                throw new TimeoutException($"Guest {vmid} stayed locked ({held}).");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct);
        }
    }
}
