using System.ComponentModel;

namespace Ctrlable.Provisioner.State;

/// <summary>An instance runs an older release than the active one: "upgrade available (from → to)", and whether it can be.</summary>
public sealed record UpgradeOffer(
    string From,
    string To,
    [property: Description("Whether POST …/upgrade would start now; false with the code and reason of the refusal.")] bool Possible,
    [property: Description("Why not: not-active, no-template, no-update-routine, guest-cannot-upgrade, no-target-version.")] string? Code,
    string? Reason);

/// <summary>The upgrade offers of instances, for the endpoints that show instances (implemented by the Upgrade feature).</summary>
public interface IUpgradeOffers
{
    /// <summary>The offers of <paramref name="instances"/> (instance id → offer; none when the instance is current).</summary>
    Task<IReadOnlyDictionary<long, UpgradeOffer>> OffersAsync(IReadOnlyList<InstanceRow> instances, CancellationToken ct);
}
