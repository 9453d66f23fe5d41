using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>
/// Guests "another admin" made on the same host: at VMIDs 100 (Proxmox's first), 999 (just below the product's
/// deploy range) and 10000 (above it). Tests that install or deploy run with them present and check at the end that
/// nothing of theirs changed (<see cref="Snapshot"/>): the product acts only on what it proved it created.
/// </summary>
internal static class ForeignGuests
{
    public static readonly int[] Vmids = [100, 999, 10000];

    /// <summary>
    /// The three guests; with <paramref name="pool"/> the last two are in it (the product's pool, so its token sees
    /// them and could act on them), the first stays outside any pool.
    /// </summary>
    public static IReadOnlyList<TemplateSeed> Seeds(string? pool = null) =>
    [
        new TemplateSeed(100, "admin-router", SimGuestKind.Qemu, 8) { Running = true, Description = "the admin's own VM" },
        new TemplateSeed(999, "admin-dns", SimGuestKind.Lxc, 4) { Pool = pool, Description = "the admin's container" },
        new TemplateSeed(10000, "admin-backup", SimGuestKind.Lxc, 4) { Pool = pool, Running = true },
    ];

    /// <summary>What the foreign guests are now: config, power state and pool, to compare with later.</summary>
    public static Snapshot Capture(PveSimulator sim, IEnumerable<int>? vmids = null)
    {
        lock (sim.State.Sync)
        {
            return new Snapshot((vmids ?? Vmids).ToDictionary(v => v, v => Describe(sim, v)));
        }
    }

    private static string Describe(PveSimulator sim, int vmid)
    {
        if (!sim.State.Guests.TryGetValue(vmid, out var guest))
        {
            return "(gone)";
        }

        var pool = sim.State.Access.PoolOf(vmid);
        return $"{guest.Kind} running={guest.Running} pool={pool} " + string.Join("; ", guest.Config.Select(c => $"{c.Key}={c.Value}"));
    }

    internal sealed record Snapshot(IReadOnlyDictionary<int, string> Guests)
    {
        /// <summary>Every guest of the snapshot is still there, exactly as it was.</summary>
        public void ShouldBeUntouched(PveSimulator sim, string because = "")
        {
            var now = Capture(sim, Guests.Keys);
            foreach (var (vmid, before) in Guests)
            {
                now.Guests[vmid].Should().Be(before, $"guest {vmid} is not the product's and must be left alone {because}");
            }
        }
    }
}
