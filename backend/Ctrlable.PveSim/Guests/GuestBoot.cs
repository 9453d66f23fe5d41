using System.Net;

namespace Ctrlable.PveSim.Guests;

/// <summary>
/// How a template tells the emulator that its clones run the Ctrlable first-boot step: the tag
/// <c>ctrlable-firstboot</c> in the guest's <c>tags</c> (clones inherit the template's tags).
/// </summary>
public static class FirstBootMarker
{
    public const string Tag = "ctrlable-firstboot";

    public static bool IsMarked(SimGuest guest) => guest.Tags.Contains(Tag, StringComparer.OrdinalIgnoreCase);
}

/// <summary>What a first-boot behaviour learns about the guest that just came up.</summary>
public sealed record GuestBootContext(
    int Vmid,
    GuestKind Kind,
    string Node,
    string Hostname,
    IPAddress Address,
    string? MacAddress,
    int? TemplateVmid,
    IReadOnlyList<string> Tags,
    string? Description);

/// <summary>
/// Runs inside the "guest" on its first boot, once its network is up, when the guest carries the
/// <see cref="FirstBootMarker"/>. The real product behaviour (the first-boot script talking to the
/// orchestrator) plugs in here; the emulator records the outcome in <see cref="PveSimulator.BootLog"/>.
/// Runs at most once per guest, in the background; the guest is running regardless of the outcome.
/// </summary>
public interface IGuestBootBehaviour
{
    Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken);
}

/// <summary>
/// A boot behaviour that keeps files of its guests (a first-boot sandbox) takes part in their snapshots: what is on the
/// guest's disk when a snapshot is taken comes back when it is rolled back to. Called outside the emulator's state lock,
/// while the guest is locked (<c>snapshot</c>, <c>rollback</c>, <c>snapshot-delete</c>).
/// </summary>
public interface IGuestDiskSnapshots
{
    void SnapshotTaken(int vmid, string name);

    void RolledBack(int vmid, string name);

    void SnapshotDeleted(int vmid, string name);
}

/// <summary>
/// A boot behaviour whose guests run an update routine (an LXC app's own update) that the emulator's control
/// <c>/_sim/guests/{vmid}/update-failure</c> can make fail, as a broken mirror would: what browser tests outside the
/// process force an upgrade's rollback with.
/// </summary>
public interface IGuestUpdateFaults
{
    /// <summary>The guest's update routine fails with <paramref name="message"/> until called with null; false when the guest has no update routine here.</summary>
    bool FailUpdates(int vmid, string? message);
}

/// <summary>Default: a first boot that does nothing.</summary>
public sealed class NoFirstBootBehaviour : IGuestBootBehaviour
{
    public Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>One first-boot run: when it started and ended, and the error if the behaviour threw.</summary>
public sealed record GuestBootRecord(int Vmid, string Node, IPAddress Address, DateTimeOffset Started, DateTimeOffset Finished, string? Error);
