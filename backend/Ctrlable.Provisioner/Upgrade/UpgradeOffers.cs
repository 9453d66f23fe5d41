using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>
/// Which instances have an upgrade available and whether it can start: the instance is active, the active release is newer
/// and has a template of the instance's type on this host, and the app has a way to be upgraded in place (SPEC §7g).
/// </summary>
public sealed class UpgradeOffers(ReleaseRepository releases, BaseBackupRepository baseBackups) : IUpgradeOffers
{
    /// <summary>The first-boot protocol version that keeps the instance credential and the upgrade timer (§7b).</summary>
    public const int AgentProtocol = 4;

    /// <summary>The offers of <paramref name="instances"/> (instance id → offer; none when the instance is current).</summary>
    public async Task<IReadOnlyDictionary<long, UpgradeOffer>> OffersAsync(IReadOnlyList<InstanceRow> instances, CancellationToken ct)
    {
        var offers = new Dictionary<long, UpgradeOffer>();
        if (await releases.GetActiveNameAsync(ct) is not { } active)
        {
            return offers;
        }

        var templates = (await releases.ListTemplatesAsync(active, ct)).ToDictionary(t => t.Name, StringComparer.Ordinal);
        var baseBackup = await baseBackups.GetAsync(active, ct);
        foreach (var instance in instances)
        {
            if (OfferOf(instance, active, templates, baseBackup) is { } offer)
            {
                offers[instance.Id] = offer;
            }
        }

        return offers;
    }

    public async Task<UpgradeOffer?> OfferAsync(InstanceRow instance, CancellationToken ct) =>
        (await OffersAsync([instance], ct)).GetValueOrDefault(instance.Id);

    internal static UpgradeOffer? OfferOf(InstanceRow instance, string active, IReadOnlyDictionary<string, TemplateRow> templates, BaseBackupRow? baseBackup)
    {
        // Release names are YYYY.MM[.N]: their ordinal order is their age.
        if (instance.Release is not { } from || instance.State == InstanceStates.Deleted || string.CompareOrdinal(from, active) >= 0)
        {
            return null;
        }

        UpgradeOffer Refused(string code, string reason) => new(from, active, false, code, reason);
        if (!templates.ContainsKey(instance.Type))
        {
            return Refused("no-template", $"Release {active} has no {instance.Type} template built on this host; build it on the Releases page first.");
        }

        if (instance.Type is TemplateTypes.Frigate or TemplateTypes.FreePbx)
        {
            // community-scripts at the pinned commit (dc355d07): ct/frigate.sh:32 and ct/freepbx.sh:32 have no update routine.
            return Refused("no-update-routine", $"community-scripts has no in-place update for {instance.Type} (its update_script says to create a new container): deploy a new {instance.Type} instance from {active} and move its configuration.");
        }

        if (instance.Type != TemplateTypes.CtrlablePro && instance.Kind == "vm")
        {
            return Refused("no-update-routine", $"A {instance.Type} VM has no in-place update: deploy it again from {active}.");
        }

        if (instance.Type != TemplateTypes.CtrlablePro && AgentVersion(instance) < AgentProtocol)
        {
            return Refused("guest-cannot-upgrade", $"{instance.Hostname} was cloned from a template whose first-boot script (protocol {AgentVersion(instance)}) has no upgrade timer; redeploy it from {active}.");
        }

        if (instance.Type == TemplateTypes.CtrlablePro && baseBackup is null)
        {
            return Refused("no-target-version", $"Release {active} has no Home Assistant base backup stored, so its Home Assistant Core version is not known; store it on the Releases page first.");
        }

        if (instance.State != InstanceStates.Active)
        {
            return InstanceStates.IsUpgrade(instance.State)
                ? Refused("busy", $"{instance.Hostname} is being upgraded ({instance.State}).")
                : Refused("not-active", $"{instance.Hostname} is {instance.State}; only an active instance is upgraded.");
        }

        return new UpgradeOffer(from, active, true, null, null);
    }

    /// <summary>The first-boot protocol version the guest reported (0 when none).</summary>
    private static int AgentVersion(InstanceRow instance) =>
        instance.ReportedVersions()?.GetValueOrDefault("firstboot") is { } v && int.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0;
}
