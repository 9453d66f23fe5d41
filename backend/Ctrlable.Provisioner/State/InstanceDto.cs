using System.ComponentModel;

namespace Ctrlable.Provisioner.State;

/// <summary>An instance as the API shows it (in a project, a deploy, or by itself).</summary>
public sealed record InstanceDto(
    long Id,
    long ProjectId,
    long? DeployId,
    string Type,
    string Kind,
    string Hostname,
    int? Vmid,
    string? Node,
    string? Mac,
    string? Ip,
    string State,
    int Percent,
    string? Release,
    string? CloneMode,
    string? Message,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: Description("A coordinator of the site is on USB: the guest needs a manual USB passthrough in its LXC config on the Proxmox host.")] bool NeedsBinding,
    [property: Description("What the guest reported at the end of its first boot, app -> version.")] IReadOnlyDictionary<string, string>? InstalledVersions,
    [property: Description("Where to open the guest's app in a browser: Home Assistant's URL for ctrlable-pro once the orchestrator located it; null otherwise.")] string? AppUrl)
{
    [Description("The instance runs an older release than the active one: upgrade available (from → to), and whether it can start now (SPEC §7g); null when it is current.")]
    public UpgradeOffer? Upgrade { get; init; }

    /// <summary>The rows with their upgrade offers.</summary>
    public static async Task<IReadOnlyList<InstanceDto>> WithOffersAsync(IReadOnlyList<InstanceRow> rows, IUpgradeOffers offers, CancellationToken ct)
    {
        var available = await offers.OffersAsync(rows, ct);
        return [.. rows.Select(r => Of(r) with { Upgrade = available.GetValueOrDefault(r.Id) })];
    }

    public static InstanceDto Of(InstanceRow r) => new(
        r.Id, r.ProjectId, r.DeployId, r.Type, r.Kind ?? "lxc", r.Hostname, r.Vmid is { } v ? (int)v : null, r.Node, r.Mac, r.Ip, r.State,
        InstanceProgress.PercentOf(r.State), r.Release, r.CloneMode, r.Message, r.Error, r.CreatedAt, r.UpdatedAt, r.NeedsBinding,
        r.ReportedVersions(), r.AppUrl);
}
