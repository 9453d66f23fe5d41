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
    MacAllocator macs,
    AddressAllocator addresses,
    SiteAddresses siteAddresses,
    AssignmentService assignments,
    IDeployStepObserver observer,
    InstanceSteps steps,
    CloneStep clone,
    StartStep start,
    FirstBootWait firstBoot,
    DeleteStep delete,
    GuestTasks guests,
    GuestLocator locator,
    HomeAssistantSetup homeAssistant,
    IEnumerable<IInstanceStepHandler> handlers,
    IOptions<DeployOptions> deployOptions,
    IOptions<ProxmoxOptions> proxmoxOptions,
    TimeProvider time,
    ProvisionerMetrics metrics,
    ILogger<DeployPipeline> logger)
{
    private readonly DeployOptions _options = deployOptions.Value;

    public async Task RunAsync(long instanceId, CancellationToken ct)
    {
        var attempt = 0;
        string? lastState = null;
        var resumed = true;
        // This run cloned the guest (and nothing since started it): the start step need not ask whether it runs.
        var freshClone = false;
        while (await instances.GetAsync(instanceId, ct) is { IsFinished: false } instance)
        {
            freshClone = instance.State switch
            {
                InstanceStates.Configuring => lastState is InstanceStates.Pending or InstanceStates.Cloning,
                InstanceStates.Starting => freshClone && lastState == InstanceStates.Configuring,
                _ => false,
            };
            attempt = instance.State == lastState ? attempt : 0;
            lastState = instance.State;
            var started = time.GetTimestamp();
            try
            {
                await StepAsync(instance, resumed || attempt > 0, freshClone, ct);
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
            catch (Exception ex) when (HandlerOf(instance.State) is { } handler && ex is not OperationCanceledException)
            {
                metrics.DeployStep(instance.State, "failed", time.GetElapsedTime(started));
                logger.LogWarning("Instance {Instance} ({Hostname}) failed at {State}: {Reason}", instance.Id, instance.Hostname, instance.State, ex.Message);
                await handler.FailedAsync(instance, ex, ct);
            }
            catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or System.Net.Sockets.SocketException or TimeoutException or ProxmoxCertificateException or Polly.Timeout.TimeoutRejectedException
                or HomeAssistantException or BackupArchiveException or Releases.BaseBackupException or AddressingException)
            {
                metrics.DeployStep(instance.State, "failed", time.GetElapsedTime(started));
                // Proxmox refused, or stayed unreachable: the instance fails with the reason; the dealer can retry it.
                logger.LogWarning("Instance {Instance} ({Hostname}) failed at {State}: {Reason}", instance.Id, instance.Hostname, instance.State, ex.Message);
                await steps.MoveAsync(instance, InstanceStates.Failed, $"Failed while {Describe(instance.State)}", error: ex.Message, ct: ct);
            }
        }

        await observer.AfterStepAsync(instanceId, RunEnded, ct);
    }

    private IInstanceStepHandler? HandlerOf(string state) => handlers.FirstOrDefault(h => h.Handles(state));

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
    private Task StepAsync(InstanceRow instance, bool reconcile, bool freshClone, CancellationToken ct) => instance.State switch
    {
        InstanceStates.Pending => clone.CloneAsync(instance, ct),
        InstanceStates.Cloning => clone.FinishCloneAsync(instance, ct),
        InstanceStates.Configuring => ConfigureAsync(instance, reconcile, ct),
        InstanceStates.Starting => start.StartAsync(instance, reconcile, freshClone, ct),
        InstanceStates.Waiting or InstanceStates.Personalising => firstBoot.WaitAsync(instance, ct),
        InstanceStates.Locating or InstanceStates.Preparing or InstanceStates.Restoring or InstanceStates.Securing or InstanceStates.Wiring =>
            HomeAssistantStepAsync(instance, reconcile, ct),
        InstanceStates.Deleting => delete.DeleteAsync(instance, ct),
        _ when HandlerOf(instance.State) is { } handler => handler.StepAsync(instance, reconcile, ct),
        _ => throw new InvalidOperationException($"Instance {instance.Id} is in unknown state '{instance.State}'."),
    };

    // --- 5-6: network identity, description, assignment -----------------------------------------

    private async Task ConfigureAsync(InstanceRow instance, bool reconcile, CancellationToken ct)
    {
        if (reconcile)
        {
            // After a restart or a failed attempt: Proxmox may have moved the guest meanwhile.
            instance = await locator.LocateAsync(instance, ct);
        }

        var kind = KindOf(instance);
        var node = instance.Node!;
        var vmid = (int)instance.Vmid!.Value;
        await steps.MoveAsync(instance, InstanceStates.Configuring, "Setting a fresh MAC address and the hostname", ct: ct);

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
            await steps.FailNotOursAsync(instance, vmid, ct);
            return;
        }

        // After a restart or a lost answer a task on the instance's guest may still run: its config is read again once
        // that has ended (someone else's guest is never waited on: it was turned away above).
        if (reconcile && await guests.WaitForRunningTasksAsync(node, vmid, ct) > 0)
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
        await steps.MoveAsync(instance, InstanceStates.Starting, message, ct: ct);
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

    /// <summary>
    /// The Home Assistant steps write into the guest (a backup restored, credentials rotated): after a restart they go
    /// on only while the VMID still holds the instance's guest.
    /// </summary>
    private async Task HomeAssistantStepAsync(InstanceRow instance, bool reconcile, CancellationToken ct)
    {
        if (reconcile)
        {
            // A run entered again (a restart, a failed attempt, Home Assistant's re-wiring): Proxmox may have moved the guest.
            instance = await locator.LocateAsync(instance, ct);
        }

        if (reconcile && instance is { Vmid: { } vmid, Node: { } node }
            && !GuestOwnership.Carries(await proxmox.GetGuestConfigAsync(node, KindOf(instance), (int)vmid, ct), instance))
        {
            await steps.FailNotOursAsync(instance, vmid, ct);
            return;
        }

        await homeAssistant.RunStepAsync(instance, ct);
    }

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
