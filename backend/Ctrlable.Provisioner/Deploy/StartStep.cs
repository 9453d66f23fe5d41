using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Step 7 of <see cref="DeployPipeline"/>: starts the instance's guest (once: after a restart a start still running is
/// waited for, a guest already running is taken as started) and moves it on to its first boot, Home Assistant's steps, or active.
/// </summary>
public sealed class StartStep(
    InstanceRepository instances,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    GuestTasks guests,
    GuestLocator locator,
    InstanceSteps steps,
    IOptions<DeployOptions> deployOptions,
    TimeProvider time,
    ILogger<StartStep> logger)
{
    /// <summary>
    /// Starts the guest. A fresh clone (this run cloned and configured it, no restart between) is not asked whether it
    /// runs: a clone of a template is stopped (and a start that finds it running is taken as done below, as ever).
    /// </summary>
    public async Task StartAsync(InstanceRow instance, bool reconcile, bool freshClone, CancellationToken ct)
    {
        if (reconcile)
        {
            // After a restart or a failed attempt: Proxmox may have moved the guest meanwhile.
            instance = await locator.LocateAsync(instance, ct);
        }

        var kind = GuestOwnership.KindOf(instance);
        var node = instance.Node!;
        var vmid = (int)instance.Vmid!.Value;
        // Straight from configuring in this run the guest is known to be ours; after a restart, ask.
        if (reconcile && !GuestOwnership.Carries(await proxmox.GetGuestConfigAsync(node, kind, vmid, ct), instance))
        {
            await steps.FailNotOursAsync(instance, vmid, ct);
            return;
        }

        if (reconcile)
        {
            // The orchestrator may have stopped right after Proxmox accepted its start, before the UPID was recorded: that
            // start task may still run while the guest reads "stopped". Starting again would race it ("already running").
            await guests.WaitForRunningTasksAsync(node, vmid, ct);
        }

        // Asked every time: a retried instance comes through configuring with its guest still running (a failed first
        // boot or Home Assistant step), and starting it again would fail with "already running".
        var running = !(freshClone && !reconcile) && await IsRunningAsync(node, kind, vmid, ct);
        if (!running)
        {
            var upid = instance.Upid ?? await RequestStartAsync(node, kind, vmid, ct);
            if (upid is not null)
            {
                await steps.MoveAsync(instance, InstanceStates.Starting, "Starting", upid: upid, ct: ct);
                var outcome = await tasks.WaitAsync(node, upid, guests.TaskTimeout, ct);
                // "already running": a start this task raced (one a restart never saw) won; the guest runs, the step is done.
                if (!outcome.Succeeded && !(IsAlreadyRunning(outcome.Describe()) && await IsRunningAsync(node, kind, vmid, ct)))
                {
                    await steps.MoveAsync(instance, InstanceStates.Failed, "Start failed", error: string.Join('\n', outcome.LogTail.DefaultIfEmpty(outcome.ExitStatus)), ct: ct);
                    return;
                }
            }
        }

        if (instance.Type == TemplateTypes.CtrlablePro)
        {
            // Home Assistant OS has no first-boot script of ours: the orchestrator drives it over its API (HomeAssistantSetup).
            await instances.SetDeadlineAsync(instance.Id, null, ct);
            await steps.MoveAsync(instance, InstanceStates.Locating, "Started; finding Home Assistant", ct: ct);
            return;
        }

        if (kind == GuestKind.Qemu)
        {
            // Other VM templates (FreePBX as a VM) have no first-boot script either.
            await steps.MoveAsync(instance, InstanceStates.Active, "Running", ct: ct);
            return;
        }

        await instances.SetDeadlineAsync(instance.Id, time.GetUtcNow().AddSeconds(deployOptions.Value.FirstBootTimeoutSeconds), ct);
        await steps.MoveAsync(instance, InstanceStates.Waiting, "Started; waiting for the guest's first boot", ct: ct);
    }

    /// <summary>Asks Proxmox to start the guest; null when it refuses because the guest already runs (an LXC says so at once).</summary>
    private async Task<string?> RequestStartAsync(string node, GuestKind kind, int vmid, CancellationToken ct)
    {
        try
        {
            return await proxmox.StartAsync(node, kind, vmid, ct);
        }
        catch (ProxmoxException ex) when (IsAlreadyRunning(ex.ProxmoxMessage))
        {
            if (!await IsRunningAsync(node, kind, vmid, ct))
            {
                throw;
            }

            logger.LogInformation("Guest {Vmid} was already running ({Reason}): the start step is done", vmid, ex.ProxmoxMessage);
            return null;
        }
    }

    private async Task<bool> IsRunningAsync(string node, GuestKind kind, int vmid, CancellationToken ct) =>
        (await proxmox.GetGuestStatusAsync(node, kind, vmid, ct)).Status == "running";

    /// <summary>pve-container: "CT 105 already running" (refused at once); qemu-server: "VM 105 already running" (the task's error).</summary>
    private static bool IsAlreadyRunning(string message) => message.Contains("already running", StringComparison.Ordinal);
}
