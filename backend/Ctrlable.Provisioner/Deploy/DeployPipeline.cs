using System.Collections.Concurrent;
using System.Net;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Drives one instance from <c>pending</c> to <c>active</c> (or through a delete), one persisted step at a
/// time, so that a restarted orchestrator resumes each instance exactly where it was by reconciling the
/// recorded step with what Proxmox holds: a recorded UPID is waited for, a clone that exists is adopted, a
/// half-made guest is completed or removed. Every change, start, stop or destroy of a guest first proves it is the
/// instance's (<see cref="GuestOwnership"/>: the marker its clone request wrote); a guest without it is reported in
/// the instance's error and left alone.
/// </summary>
public sealed class DeployPipeline(
    InstanceRepository instances,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    MacAllocator macs,
    AddressAllocator addresses,
    SiteAddresses siteAddresses,
    AssignmentService assignments,
    DeployEvents events,
    IDeployStepObserver observer,
    InstanceSteps steps,
    HomeAssistantSetup homeAssistant,
    VmidAllocator vmids,
    GuestOwnership ownership,
    IOptions<DeployOptions> deployOptions,
    IOptions<ProxmoxOptions> proxmoxOptions,
    TimeProvider time,
    ProvisionerMetrics metrics,
    ILogger<DeployPipeline> logger)
{
    /// <summary>Proxmox puts <c>lock: disk</c> on an LXC template while it is cloned: clones of one template run one at a time.</summary>
    private readonly ConcurrentDictionary<long, SemaphoreSlim> _templateLocks = new();

    private readonly DeployOptions _options = deployOptions.Value;
    private TimeSpan TaskTimeout => TimeSpan.FromSeconds(_options.TaskTimeoutSeconds);

    public async Task RunAsync(long instanceId, CancellationToken ct)
    {
        var attempt = 0;
        string? lastState = null;
        var resumed = true;
        while (await instances.GetAsync(instanceId, ct) is { IsFinished: false } instance)
        {
            attempt = instance.State == lastState ? attempt : 0;
            lastState = instance.State;
            var started = time.GetTimestamp();
            try
            {
                await StepAsync(instance, resumed || attempt > 0, ct);
                resumed = false;
                metrics.DeployStep(instance.State, "ok", time.GetElapsedTime(started));
            }
            catch (Exception ex) when (IsTransient(ex) && ++attempt < _options.TransientAttempts)
            {
                metrics.DeployStep(instance.State, "retry", time.GetElapsedTime(started));
                // Every step starts by looking at what Proxmox holds, so running it again is safe even when the
                // failed request may have been carried out (a clone whose answer was lost is adopted, not repeated).
                logger.LogInformation("Instance {Instance} ({Hostname}): {Reason}; retrying {State} ({Attempt}/{Max})", instance.Id, instance.Hostname, ex.Message, instance.State, attempt, _options.TransientAttempts - 1);
                await Task.Delay(TimeSpan.FromSeconds(_options.RetryDelaySeconds * Math.Pow(2, attempt - 1)), time, ct);
            }
            catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or System.Net.Sockets.SocketException or TimeoutException or ProxmoxCertificateException or Polly.Timeout.TimeoutRejectedException
                or HomeAssistantException or BackupArchiveException or Releases.BaseBackupException or AddressingException)
            {
                metrics.DeployStep(instance.State, "failed", time.GetElapsedTime(started));
                // Proxmox refused, or stayed unreachable: the instance fails with the reason; the dealer can retry it.
                logger.LogWarning("Instance {Instance} ({Hostname}) failed at {State}: {Reason}", instance.Id, instance.Hostname, instance.State, ex.Message);
                await MoveAsync(instance, InstanceStates.Failed, $"Failed while {Describe(instance.State)}", error: ex.Message, ct: ct);
            }
        }

        await observer.AfterStepAsync(instanceId, RunEnded, ct);
    }

    private static bool IsTransient(Exception ex) => ex switch
    {
        ProxmoxException p => (int)p.Status >= 500 && p.Status != HttpStatusCode.NotImplemented,
        HttpRequestException { InnerException: not System.Security.Authentication.AuthenticationException } => true,
        // A connection closed while it was being opened can surface bare, not wrapped in HttpRequestException.
        System.Net.Sockets.SocketException => true,
        Polly.Timeout.TimeoutRejectedException => true,
        _ => false,
    };

    // reconcile: the step may have run before (after a restart or a failed attempt), so look at Proxmox first.
    private Task StepAsync(InstanceRow instance, bool reconcile, CancellationToken ct) => instance.State switch
    {
        InstanceStates.Pending => CloneAsync(instance, ct),
        InstanceStates.Cloning => FinishCloneAsync(instance, ct),
        InstanceStates.Configuring => ConfigureAsync(instance, reconcile, ct),
        InstanceStates.Starting => StartAsync(instance, reconcile, ct),
        InstanceStates.Waiting or InstanceStates.Personalising => WaitForFirstBootAsync(instance, ct),
        InstanceStates.Locating or InstanceStates.Preparing or InstanceStates.Restoring or InstanceStates.Securing or InstanceStates.Wiring =>
            HomeAssistantStepAsync(instance, reconcile, ct),
        InstanceStates.Deleting => DeleteAsync(instance, ct),
        _ => throw new InvalidOperationException($"Instance {instance.Id} is in unknown state '{instance.State}'."),
    };

    // --- 1-3: VMID, clone ------------------------------------------------------------------------

    private async Task CloneAsync(InstanceRow instance, CancellationToken ct)
    {
        var kind = KindOf(instance);
        while (true)
        {
            instance = (await instances.GetAsync(instance.Id, ct))!;
            var resumed = instance.Vmid is not null;
            var vmid = instance.Vmid ?? await vmids.AllocateAsync(instance, ct);
            if (vmid is null)
            {
                continue;
            }

            await observer.AfterStepAsync(instance.Id, VmidReserved, ct);

            // The clone may already exist: the orchestrator stopped after asking Proxmox for it. (A VMID allocated just
            // now was found free by Proxmox itself; a race for it ends in "already exists" below.)
            if (resumed && await FindSettledGuestAsync(vmid.Value, kind, instance.Node, instance.TemplateVmid, ct) is { } existing)
            {
                if (await ownership.IsOursAsync(existing, instance, ct))
                {
                    await MoveAsync(instance, InstanceStates.Configuring, "Cloned (found after a restart)", ct: ct);
                    return;
                }

                // Someone else's guest took the VMID after we reserved it: left alone; pick another.
                logger.LogWarning("Instance {Instance} ({Hostname}): {Reason} Choosing another VMID.", instance.Id, instance.Hostname, GuestOwnership.NotOurs(vmid.Value));
                await vmids.ReleaseAsync(instance, ct);
                continue;
            }

            var (node, linked) = await ClonePlanAsync(instance, ct);
            await instances.SetCloneAsync(instance.Id, node, linked ? "linked" : "full", ct);
            var storage = linked ? null : await TargetStorageAsync(instance, ct);

            // Only the clone itself holds the template: everything before and after runs in parallel.
            var templateLock = kind == GuestKind.Lxc ? _templateLocks.GetOrAdd(instance.TemplateVmid!.Value, _ => new SemaphoreSlim(1, 1)) : null;
            if (templateLock is not null && !templateLock.Wait(0))
            {
                await MoveAsync(instance, InstanceStates.Pending, "Waiting for the template (one clone at a time)", ct: ct);
                await templateLock.WaitAsync(ct);
            }

            try
            {
                await MoveAsync(instance, InstanceStates.Cloning, linked ? "Cloning (linked clone)" : "Cloning (full copy: this takes minutes)", ct: ct);
                string upid;
                try
                {
                    upid = await proxmox.CloneAsync(node, kind, (int)instance.TemplateVmid!.Value, new CloneRequest(
                        (int)vmid.Value, instance.Hostname, GuestOwnership.Description(instance), proxmoxOptions.Value.Pool, Full: linked ? null : true, Storage: storage), ct);
                }
                catch (ProxmoxException ex) when (ex.IsAlreadyExists)
                {
                    // Our own earlier request may have created it (its answer lost in a restart): adopt it.
                    if (await FindSettledGuestAsync(vmid.Value, kind, node, instance.TemplateVmid, ct) is { } ours && await ownership.IsOursAsync(ours, instance, ct))
                    {
                        await MoveAsync(instance, InstanceStates.Configuring, "Cloned (found after a restart)", ct: ct);
                        return;
                    }

                    // A VMID race with something outside the orchestrator: re-allocate, never fail the deploy.
                    logger.LogInformation("VMID {Vmid} was taken meanwhile; choosing another for {Hostname}", vmid, instance.Hostname);
                    await vmids.ReleaseAsync(instance, ct);
                    continue;
                }

                await observer.AfterStepAsync(instance.Id, CloneRequested, ct);
                instance = (await instances.GetAsync(instance.Id, ct))!;
                await MoveAsync(instance, InstanceStates.Cloning, instance.Message ?? "Cloning", upid: upid, ct: ct);
                await WaitCloneTaskAsync(instance with { Upid = upid, Node = node }, ct);
                return;
            }
            finally
            {
                templateLock?.Release();
            }
        }
    }

    private async Task FinishCloneAsync(InstanceRow instance, CancellationToken ct)
    {
        var kind = KindOf(instance);
        var templateLock = kind == GuestKind.Lxc ? _templateLocks.GetOrAdd(instance.TemplateVmid!.Value, _ => new SemaphoreSlim(1, 1)) : null;
        if (templateLock is not null)
        {
            await templateLock.WaitAsync(ct);
        }

        try
        {
            if (instance.Upid is not null)
            {
                await WaitCloneTaskAsync(instance, ct);
                return;
            }

            // Stopped between asking for the clone and recording its task: look at what Proxmox holds.
            if (instance.Vmid is { } vmid && await FindSettledGuestAsync(vmid, kind, instance.Node, instance.TemplateVmid, ct) is { } existing && await ownership.IsOursAsync(existing, instance, ct))
            {
                await MoveAsync(instance, InstanceStates.Configuring, "Cloned", ct: ct);
            }
            else
            {
                await MoveAsync(instance, InstanceStates.Pending, "Clone not found after a restart; cloning again", ct: ct);
            }
        }
        finally
        {
            templateLock?.Release();
        }
    }

    private async Task WaitCloneTaskAsync(InstanceRow instance, CancellationToken ct)
    {
        var outcome = await tasks.WaitAsync(instance.Node!, instance.Upid!, TaskTimeout, ct);
        if (outcome.Succeeded)
        {
            await MoveAsync(instance, InstanceStates.Configuring, "Cloned", ct: ct);
            return;
        }

        // Proxmox removes a failed clone's config itself; make sure nothing half-made stays behind. Whatever holds the
        // VMID by now (a restart may come much later) is destroyed only when it carries this instance's marker.
        var error = string.Join('\n', outcome.LogTail.DefaultIfEmpty(outcome.ExitStatus));
        if (instance.Vmid is { } vmid && await FindGuestAsync(vmid, ct) is { } leftover)
        {
            await WaitUntilUnlockedAsync(leftover.Node!, leftover.Kind ?? KindOf(instance), (int)vmid, ct);
            if (!await DestroyIfOursAsync(instance, leftover, ct))
            {
                error += "\n" + GuestOwnership.NotOurs(vmid);
            }
        }

        await vmids.ReleaseAsync(instance, ct);
        await MoveAsync(instance, InstanceStates.Failed, "Clone failed", error: error, ct: ct);
    }

    // --- 5-6: network identity, description, assignment -----------------------------------------

    private async Task ConfigureAsync(InstanceRow instance, bool reconcile, CancellationToken ct)
    {
        var kind = KindOf(instance);
        var node = instance.Node!;
        var vmid = (int)instance.Vmid!.Value;
        await MoveAsync(instance, InstanceStates.Configuring, "Setting a fresh MAC address and the hostname", ct: ct);

        var mac = instance.Mac;
        if (mac is null)
        {
            mac = await macs.AllocateAsync(ct);
            // Recorded before it is applied: a restart re-applies the same MAC.
            await instances.SetMacAsync(instance.Id, mac, ct);
        }

        var settings = await SiteSettings.OfProjectAsync(instances, instance.ProjectId, ct);
        var config = await proxmox.GetGuestConfigAsync(node, kind, vmid, ct);
        if (!GuestOwnership.Carries(config, instance))
        {
            // Its clone was marked when it was made: this is another guest at the VMID (ours was destroyed meanwhile).
            await FailNotOursAsync(instance, vmid, ct);
            return;
        }

        // After a restart or a lost answer a task on the instance's guest may still run: its config is read again once
        // that has ended (someone else's guest is never waited on: it was turned away above).
        if (reconcile && await WaitForRunningTasksAsync(node, vmid, ct) > 0)
        {
            config = await proxmox.GetGuestConfigAsync(node, kind, vmid, ct);
        }

        // A static plan: the instance's address (recorded before it is written, so a restart writes the same one). LXC
        // takes it in net0; Home Assistant OS through Supervisor in its own flow (§7e); other VMs keep DHCP (no cloud-init).
        var plan = AddressPlan.Of(settings.Addressing);
        var staticAddress = plan is not null && (kind == GuestKind.Lxc || instance.Type == TemplateTypes.CtrlablePro)
            ? await addresses.AllocateAsync(instance.Id, plan, ct)
            : null;
        var ipv4 = kind != GuestKind.Lxc ? null
            : plan is not null && staticAddress is not null ? new Ipv4Setting(plan.Cidr(staticAddress), plan.Gateway.ToString())
            : Ipv4Setting.Dhcp;

        var net0 = NetConfig.Rewrite(config.GetValueOrDefault("net0") ?? (kind == GuestKind.Lxc ? "name=eth0,ip=dhcp,type=veth" : "virtio=00:00:00:00:00:00"),
            kind == GuestKind.Lxc, mac, settings.Network.Bridge ?? proxmoxOptions.Value.Bridge, settings.Network.Vlan, ipv4);
        var changes = new Dictionary<string, string>
        {
            ["net0"] = net0,
            [kind == GuestKind.Lxc ? "hostname" : "name"] = instance.Hostname,
            ["description"] = GuestOwnership.Description(instance),
            ["tags"] = Tags(instance, config.GetValueOrDefault("tags")),
        };
        if (kind == GuestKind.Lxc && plan is not null)
        {
            // With a static address the container's resolv.conf comes from here (pct: nameserver, space-separated).
            changes["nameserver"] = string.Join(' ', plan.DnsServers);
        }

        await proxmox.UpdateConfigAsync(node, kind, vmid, changes, null, config.GetValueOrDefault("digest"), ct);

        // The site's own broker is reached by address (or by name where the site's DNS serves it), never by a guessed name.
        var brokerHost = settings.Mqtt is null && instance.Type is TemplateTypes.Zigbee2Mqtt or TemplateTypes.Frigate
            ? await siteAddresses.ProjectBrokerHostAsync(instance, settings, ct)
            : null;
        var summary = await assignments.CreateAsync(instance.Id, instance.Type, instance.Hostname, instance.Release!, instance.ProjectId, settings, brokerHost, ct);
        var message = summary.NeedsBinding ? UsbBindingMessage(instance, settings) : "Configured";
        await MoveAsync(instance, InstanceStates.Starting, message, ct: ct);
    }

    /// <summary>
    /// What the dealer does by hand for a coordinator on USB. Proxmox lets only root@pam set an LXC's <c>devN</c>
    /// (pve-container check_ct_modify_config_perm), never an API token, so the orchestrator cannot pass it through.
    /// </summary>
    internal static string UsbBindingMessage(InstanceRow instance, SiteSettings settings)
    {
        var device = instance.Type switch
        {
            TemplateTypes.Zigbee2Mqtt => settings.Zigbee.UsbDevice,
            TemplateTypes.ZwaveJs => settings.Zwave.UsbDevice,
            _ => null,
        } ?? settings.Zigbee.UsbDevice ?? settings.Zwave.UsbDevice ?? "/dev/serial/by-id/...";
        return $"Configured — needs a USB binding on the host: as root on the Proxmox host run 'pct set {instance.Vmid} --dev0 {device}' and restart the container (Proxmox lets only root@pam pass a device through, not the orchestrator's API token)";
    }

    // --- 7: start, first boot -------------------------------------------------------------------

    private async Task StartAsync(InstanceRow instance, bool reconcile, CancellationToken ct)
    {
        var kind = KindOf(instance);
        var node = instance.Node!;
        var vmid = (int)instance.Vmid!.Value;
        // Straight from configuring in this run the guest is known to be ours; after a restart, ask.
        if (reconcile && !GuestOwnership.Carries(await proxmox.GetGuestConfigAsync(node, kind, vmid, ct), instance))
        {
            await FailNotOursAsync(instance, vmid, ct);
            return;
        }

        if (reconcile)
        {
            // The orchestrator may have stopped right after Proxmox accepted its start, before the UPID was recorded: that
            // start task may still run while the guest reads "stopped". Starting again would race it ("already running").
            await WaitForRunningTasksAsync(node, vmid, ct);
        }

        // Asked every time: a retried instance comes through configuring with its guest still running (a failed first
        // boot or Home Assistant step), and starting it again would fail with "already running".
        var running = await IsRunningAsync(node, kind, vmid, ct);
        if (!running)
        {
            var upid = instance.Upid ?? await RequestStartAsync(node, kind, vmid, ct);
            if (upid is not null)
            {
                await MoveAsync(instance, InstanceStates.Starting, "Starting", upid: upid, ct: ct);
                var outcome = await tasks.WaitAsync(node, upid, TaskTimeout, ct);
                // "already running": a start this task raced (one a restart never saw) won; the guest runs, the step is done.
                if (!outcome.Succeeded && !(IsAlreadyRunning(outcome.Describe()) && await IsRunningAsync(node, kind, vmid, ct)))
                {
                    await MoveAsync(instance, InstanceStates.Failed, "Start failed", error: string.Join('\n', outcome.LogTail.DefaultIfEmpty(outcome.ExitStatus)), ct: ct);
                    return;
                }
            }
        }

        if (instance.Type == TemplateTypes.CtrlablePro)
        {
            // Home Assistant OS has no first-boot script of ours: the orchestrator drives it over its API (HomeAssistantSetup).
            await instances.SetDeadlineAsync(instance.Id, null, ct);
            await MoveAsync(instance, InstanceStates.Locating, "Started; finding Home Assistant", ct: ct);
            return;
        }

        if (kind == GuestKind.Qemu)
        {
            // Other VM templates (FreePBX as a VM) have no first-boot script either.
            await MoveAsync(instance, InstanceStates.Active, "Running", ct: ct);
            return;
        }

        await instances.SetDeadlineAsync(instance.Id, time.GetUtcNow().AddSeconds(_options.FirstBootTimeoutSeconds), ct);
        await MoveAsync(instance, InstanceStates.Waiting, "Started; waiting for the guest's first boot", ct: ct);
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

    /// <summary>
    /// Waits for the guest's tasks still running on the node (its start, stop, destroy or a config task), whoever asked:
    /// after a restart one of ours may be in flight with its UPID never recorded, and acting on the guest before it ends
    /// would race it. Its outcome is read from the guest afterwards. Returns how many were waited for.
    /// </summary>
    private async Task<int> WaitForRunningTasksAsync(string node, long vmid, CancellationToken ct, params string[] types)
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

    /// <summary>
    /// The Home Assistant steps write into the guest (a backup restored, credentials rotated): after a restart they go
    /// on only while the VMID still holds the instance's guest.
    /// </summary>
    private async Task HomeAssistantStepAsync(InstanceRow instance, bool reconcile, CancellationToken ct)
    {
        if (reconcile && instance is { Vmid: { } vmid, Node: { } node }
            && !GuestOwnership.Carries(await proxmox.GetGuestConfigAsync(node, KindOf(instance), (int)vmid, ct), instance))
        {
            await FailNotOursAsync(instance, vmid, ct);
            return;
        }

        await homeAssistant.RunStepAsync(instance, ct);
    }

    private async Task WaitForFirstBootAsync(InstanceRow instance, CancellationToken ct)
    {
        var last = instance;
        while (true)
        {
            var current = await instances.GetAsync(instance.Id, ct);
            if (current is null || current.IsFinished || current.State is not (InstanceStates.Waiting or InstanceStates.Personalising))
            {
                if (current is not null && current.State != last.State)
                {
                    events.Publish(InstanceProgress.Of(current));
                }

                return;
            }

            if (current.State != last.State || current.Message != last.Message)
            {
                events.Publish(InstanceProgress.Of(current));
                last = current;
            }

            if (current.DeadlineAt is { } deadline && time.GetUtcNow() > deadline)
            {
                await MoveAsync(current, InstanceStates.Failed, "No first-boot report",
                    error: $"The guest did not report its first boot within {_options.FirstBootTimeoutSeconds / 60:0.#} min. Check its network and the orchestrator address in /etc/ctrlable/firstboot.env.", ct: ct);
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct);
        }
    }

    // --- Delete ---------------------------------------------------------------------------------

    private async Task DeleteAsync(InstanceRow instance, CancellationToken ct)
    {
        var kind = KindOf(instance);
        string? error = null;
        if (instance.Vmid is { } vmid && await FindSettledGuestAsync(vmid, kind, instance.Node, instance.TemplateVmid, ct) is { } found
            && await OwnGuestSettledAsync(instance, found, ct) is { } guest)
        {
            if (!await DestroyIfOursAsync(instance, guest, ct))
            {
                // The instance's own guest is gone (nothing of ours holds its VMID): the row goes, the guest stays.
                error = GuestOwnership.NotOurs(vmid);
                logger.LogWarning("Instance {Instance} ({Hostname}) deleted without destroying anything: {Reason}", instance.Id, instance.Hostname, error);
            }
        }

        await assignments.DeleteAsync(instance.Id, ct);
        await MoveAsync(instance, InstanceStates.Deleted, error is null ? "Deleted" : "Deleted; the guest at its VMID is not this instance's and was left alone", error: error, ct: ct);
    }

    /// <summary>
    /// The instance's own guest once a stop or destroy of ours still in flight (its UPID lost in a restart) has ended; null
    /// when that removed it. Someone else's guest comes back as it is: it is never waited on, only left alone.
    /// </summary>
    private async Task<ClusterResource?> OwnGuestSettledAsync(InstanceRow instance, ClusterResource guest, CancellationToken ct)
    {
        if (!await ownership.IsOursAsync(guest, instance, ct) || await WaitForRunningTasksAsync(guest.Node!, guest.Vmid!.Value, ct) == 0)
        {
            return guest;
        }

        var after = await FindGuestAsync(guest.Vmid!.Value, ct);
        if (after is not null)
        {
            await WaitUntilUnlockedAsync(after.Node!, after.Kind ?? KindOf(instance), after.Vmid!.Value, ct);
        }

        return after;
    }

    private async Task FailNotOursAsync(InstanceRow instance, long vmid, CancellationToken ct)
    {
        logger.LogWarning("Instance {Instance} ({Hostname}): {Reason}", instance.Id, instance.Hostname, GuestOwnership.NotOurs(vmid));
        await MoveAsync(instance, InstanceStates.Failed, "Not this instance's guest", error: GuestOwnership.NotOurs(vmid) + " Retry clones the instance anew at another VMID.", ct: ct);
    }

    /// <summary>Stops and destroys <paramref name="guest"/> when it is the instance's (checked here, right before); false when not.</summary>
    private async Task<bool> DestroyIfOursAsync(InstanceRow instance, ClusterResource guest, CancellationToken ct)
    {
        if (!await ownership.IsOursAsync(guest, instance, ct))
        {
            return false;
        }

        await DestroyAsync(guest.Node!, KindOf(instance), guest.Vmid!.Value, ct);
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

    // --- Helpers --------------------------------------------------------------------------------

    private async Task<(string Node, bool Linked)> ClonePlanAsync(InstanceRow instance, CancellationToken ct)
    {
        var resources = await proxmox.GetClusterResourcesAsync(null, ct);
        var template = resources.FirstOrDefault(r => r.Vmid == instance.TemplateVmid && r.Template == true)
            ?? throw new ProxmoxException(HttpStatusCode.NotFound, "GET", "/cluster/resources",
                $"Template {instance.TemplateVmid} ({instance.Type}) of release {instance.Release} is not on this Proxmox host. Build the release again.", new Dictionary<string, string>());
        var config = await proxmox.GetGuestConfigAsync(template.Node!, KindOf(instance), (int)instance.TemplateVmid!.Value, ct);
        var disk = config.GetValueOrDefault("rootfs") ?? config.GetValueOrDefault("scsi0") ?? config.GetValueOrDefault("virtio0") ?? "";
        var storageId = disk.Split(':')[0];
        var storage = resources.FirstOrDefault(r => r.Type == "storage" && r.Node == template.Node && r.Storage == storageId);
        // Linked clones only from templates on storages that support them (lvmthin, zfspool, rbd, btrfs).
        var linked = storage?.Plugintype is "lvmthin" or "zfspool" or "zfs" or "rbd" or "btrfs";
        return (template.Node!, linked);
    }

    private async Task<string> TargetStorageAsync(InstanceRow instance, CancellationToken ct) =>
        (await SiteSettings.OfProjectAsync(instances, instance.ProjectId, ct)).Storage ?? proxmoxOptions.Value.Storage;

    private async Task<ClusterResource?> FindGuestAsync(long vmid, CancellationToken ct) =>
        (await proxmox.GetClusterResourcesAsync("vm", ct)).FirstOrDefault(r => r.Vmid == vmid);

    /// <summary>
    /// The guest with this VMID once no task holds it: a clone still running shows only its lock (and no name
    /// yet), so whose guest it is can be told only after the lock is gone. Proxmox adds a clone to its pool only
    /// when the clone task ends, so until then the token cannot see it at all: while the VMID is taken by a guest
    /// the token cannot see, the clones of the instance's template still running on its node (a clone task's id is
    /// its source's VMID) are waited for — one may be the clone a stopped orchestrator asked for — and then it is looked
    /// for once more. Null when the VMID is free, or taken by a guest the token still cannot see (not ours).
    /// </summary>
    private async Task<ClusterResource?> FindSettledGuestAsync(long vmid, GuestKind kind, string? node, long? templateVmid, CancellationToken ct)
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
                await WaitForRunningTasksAsync(node, templateVmid.Value, ct, "vzclone", "qmclone");
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
    private async Task WaitUntilUnlockedAsync(string node, GuestKind kind, int vmid, CancellationToken ct)
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

    private Task MoveAsync(InstanceRow instance, string state, string message, string? upid = null, string? error = null, CancellationToken ct = default) =>
        steps.MoveAsync(instance, state, message, upid, error, ct);

    /// <summary>The point after a VMID was reserved in the database, before anything happened in Proxmox.</summary>
    public const string VmidReserved = "vmid-reserved";

    /// <summary>The point between Proxmox accepting a clone and the orchestrator recording its task.</summary>
    public const string CloneRequested = "clone-requested";

    /// <summary>The point after the run read its instance finished for the last time, before the runner lets it go.</summary>
    public const string RunEnded = "run-ended";

    private static GuestKind KindOf(InstanceRow instance) => GuestOwnership.KindOf(instance);

    /// <summary>Our tags; the template's markers stay (first boot, Home Assistant OS: the Proxmox emulator acts on them too).</summary>
    private static string Tags(InstanceRow instance, string? current)
    {
        var tags = new List<string> { "ctrlable", instance.Type, $"release-{instance.Release?.Replace('.', '-')}" };
        var held = current?.Split([';', ',', ' '], StringSplitOptions.RemoveEmptyEntries) ?? [];
        foreach (var marker in new[] { FirstBootEnvironment.TemplateTag, HomeAssistantSetup.TemplateTag })
        {
            if (held.Contains(marker, StringComparer.OrdinalIgnoreCase))
            {
                tags.Add(marker);
            }
        }

        return string.Join(';', tags);
    }

    private static string Describe(string state) => state switch
    {
        InstanceStates.Pending or InstanceStates.Cloning => "cloning",
        InstanceStates.Configuring => "configuring",
        InstanceStates.Starting => "starting",
        InstanceStates.Deleting => "deleting",
        InstanceStates.Locating => "finding Home Assistant",
        InstanceStates.Preparing => "waiting for Home Assistant",
        InstanceStates.Restoring => "restoring Home Assistant's base backup",
        InstanceStates.Securing => "signing in to Home Assistant",
        InstanceStates.Wiring => "wiring services into Home Assistant",
        _ => "waiting for the guest",
    };
}
