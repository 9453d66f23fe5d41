using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>
/// After the update: the guest runs, its app answers (the dashboard's app-health probe, §7f) and, for Home Assistant, every
/// integration the orchestrator wired is still there (its config entries, §7e). Waited for up to
/// <see cref="UpgradeOptions.HealthTimeoutSeconds"/>; then the upgrade rolls back with what was last seen.
/// </summary>
public sealed class UpgradeHealth(
    InstanceRepository instances,
    ProxmoxClient proxmox,
    AppHealthMonitor apps,
    HomeAssistantClient homeAssistant,
    HomeAssistantRepository sites,
    HomeAssistantCredentials credentials,
    InstanceSteps steps,
    IOptions<UpgradeOptions> options,
    TimeProvider time)
{
    public async Task WaitHealthyAsync(InstanceRow instance, UpgradeRow upgrade, CancellationToken ct)
    {
        var deadline = instance.DeadlineAt ?? time.GetUtcNow().AddSeconds(options.Value.HealthTimeoutSeconds);
        if (instance.DeadlineAt is null)
        {
            await instances.SetDeadlineAsync(instance.Id, deadline, ct);
        }

        while (true)
        {
            var problem = await ProblemAsync((await instances.GetAsync(instance.Id, ct))!, upgrade, ct);
            if (problem is null)
            {
                await instances.SetDeadlineAsync(instance.Id, null, ct);
                return;
            }

            if (time.GetUtcNow() > deadline)
            {
                await instances.SetDeadlineAsync(instance.Id, null, ct);
                throw new UpgradeFailedException($"after the update {problem} (waited {options.Value.HealthTimeoutSeconds:0} s)");
            }

            await steps.SayAsync(instance, $"Upgrading to {upgrade.ToRelease}: checking the app ({problem})", ct);
            await Task.Delay(TimeSpan.FromSeconds(options.Value.PollIntervalSeconds), time, ct);
        }
    }

    /// <summary>What is not healthy yet; null when all is.</summary>
    private async Task<string?> ProblemAsync(InstanceRow instance, UpgradeRow upgrade, CancellationToken ct)
    {
        var kind = upgrade.Kind == "vm" ? GuestKind.Qemu : GuestKind.Lxc;
        if ((await proxmox.GetGuestStatusAsync(upgrade.Node, kind, (int)upgrade.Vmid, ct)).Status != "running")
        {
            return "the guest is not running";
        }

        if (await apps.CheckAsync(instance, ct) is { Up: false } down)
        {
            return $"the app does not answer ({down.Detail})";
        }

        if (instance.Type != Provision.TemplateTypes.CtrlablePro)
        {
            return null;
        }

        // Home Assistant is wired as before: every integration the orchestrator set up has its config entry.
        var url = (await sites.FindAsync(instance.Id, ct))?.Url;
        var token = await credentials.TokenAsync(instance.Id, ct);
        if (url is null || token is null)
        {
            return "Home Assistant's address or token is not recorded";
        }

        try
        {
            foreach (var wired in (await sites.ListWiringAsync(instance.Id, ct)).GroupBy(w => w.Domain))
            {
                var entries = await homeAssistant.GetConfigEntriesAsync(new Uri(url), token, wired.Key, ct);
                if (wired.Any(w => w.EntryId is { } id && entries.All(e => e.EntryId != id)) || entries.Count == 0)
                {
                    return $"Home Assistant's {wired.Key} integration is gone";
                }
            }
        }
        catch (HomeAssistantException ex)
        {
            return $"Home Assistant does not answer ({ex.Message})";
        }

        return null;
    }
}
