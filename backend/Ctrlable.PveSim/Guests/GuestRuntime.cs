using System.Net;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Guests;

/// <summary>What became of a DHCP lease change (<see cref="GuestRuntime.ChangeLease"/>).</summary>
public enum LeaseChange
{
    Changed,

    /// <summary>The guest is not running, or its network is not up yet.</summary>
    NotRunning,

    /// <summary>The guest has a static address: DHCP does not move it.</summary>
    Static,

    /// <summary>Another running guest holds the address.</summary>
    Taken,
}

/// <summary>
/// What happens inside a started guest: after the boot delay its network comes up (it gets its address),
/// a QEMU guest agent starts answering a bit later, and a guest carrying the first-boot marker runs the
/// configured <see cref="IGuestBootBehaviour"/> once.
/// </summary>
internal static class GuestRuntime
{
    /// <summary>Marks the guest running and schedules its boot. Caller holds the state lock.</summary>
    public static void Started(SimContext sim, SimGuest guest)
    {
        var started = sim.Clock.Now;
        guest.Running = true;
        guest.StartedAt = started;
        guest.RunGeneration++;
        guest.NetworkUp = false;
        guest.AgentUp = false;
        guest.Pid = 100_000 + (guest.Vmid % 50_000) + guest.RunGeneration;
        var generation = guest.RunGeneration;
        _ = Task.Run(() => BootAsync(sim, guest, generation, started));
    }

    /// <summary>Marks the guest stopped. Caller holds the state lock.</summary>
    public static void Stopped(SimContext sim, SimGuest guest)
    {
        sim.HomeAssistant.Stopped(guest.Vmid);
        sim.Apps.Stopped(guest.Vmid);
        guest.Running = false;
        guest.StartedAt = null;
        guest.RunGeneration++;
        guest.NetworkUp = false;
        guest.AgentUp = false;
        guest.Pid = 0;
    }

    /// <summary>The boot's milestones are measured from <paramref name="started"/>, not from when this runs.</summary>
    private static async Task BootAsync(SimContext sim, SimGuest guest, int generation, DateTimeOffset started)
    {
        var token = sim.ShuttingDown;
        try
        {
            await sim.Clock.DelayUntil(started + sim.Clock.Scaled(sim.Timings.BootToNetwork), token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        GuestBootContext? firstBoot = null;
        lock (sim.State.Sync)
        {
            if (guest.RunGeneration != generation || sim.State.Guest(guest.Vmid) != guest)
            {
                return;
            }

            // A static ip=/gw= on the first NIC wins over DHCP, as does an address Home Assistant OS was given through its
            // Supervisor (kept on the VM's disk).
            var (configured, prefix, gateway) = StaticSetting(guest);
            guest.Address = configured ?? sim.HomeAssistant.StaticAddress(guest.Vmid) ?? sim.IpAllocator.Allocate(guest.Vmid);
            guest.AddressPrefix = prefix;
            guest.Gateway = gateway;
            guest.NetworkUp = true;
            if (!HomeAssistantMarker.IsMarked(guest))
            {
                // Under the lock, so that a stop cannot come between the check above and the app's start.
                sim.Apps.Booted(guest, guest.Address);
            }

            if (!guest.FirstBootDone && FirstBootMarker.IsMarked(guest))
            {
                guest.FirstBootDone = true;
                firstBoot = new GuestBootContext(
                    guest.Vmid,
                    guest.Kind,
                    guest.Node,
                    guest.Name,
                    guest.Address,
                    PrimaryMac(guest),
                    guest.ClonedFrom,
                    guest.Tags,
                    guest.Config.GetValueOrDefault("description"));
            }
        }

        if (firstBoot is not null)
        {
            _ = Task.Run(() => RunFirstBootAsync(sim, firstBoot));
        }

        if (HomeAssistantMarker.IsMarked(guest) && guest.Address is { } address)
        {
            _ = Task.Run(() => sim.HomeAssistant.BootAsync(guest, address));
        }

        if (guest.Kind == GuestKind.Qemu)
        {
            try
            {
                await sim.Clock.DelayUntil(started + sim.Clock.Scaled(sim.Timings.BootToAgent), token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            lock (sim.State.Sync)
            {
                if (guest.RunGeneration == generation)
                {
                    guest.AgentUp = true;
                }
            }
        }
    }

    private static async Task RunFirstBootAsync(SimContext sim, GuestBootContext context)
    {
        var started = sim.Clock.Now;
        string? error = null;
        try
        {
            await sim.Options.BootBehaviour.RunFirstBootAsync(context, sim.ShuttingDown);
        }
        catch (Exception e) when (e is not OperationCanceledException || !sim.ShuttingDown.IsCancellationRequested)
        {
            // A failing first boot is an outcome to inspect (BootLog), not a crash of the emulator.
            error = e.ToString();
        }

        sim.RecordBoot(new GuestBootRecord(context.Vmid, context.Node, context.Address, started, sim.Clock.Now, error));
    }

    /// <summary>
    /// The emulated LAN's DHCP server gives a running guest another address (its lease changed, as a router may do after
    /// a restart or when the lease ran out while the guest was off): from now on Proxmox reports it (LXC interfaces, the
    /// guest agent), the guest's app listens there, and a Home Assistant OS guest's Core moves there. Refused for a guest
    /// with a static address (net0 <c>ip=</c>, or one set through Home Assistant's Supervisor) and for an address another
    /// running guest holds.
    /// </summary>
    public static LeaseChange ChangeLease(SimContext sim, int vmid, IPAddress address)
    {
        Ctrlable.HaSim.HaSimulator? homeAssistant = null;
        lock (sim.State.Sync)
        {
            if (sim.State.Guest(vmid) is not { Running: true, NetworkUp: true } guest)
            {
                return LeaseChange.NotRunning;
            }

            if (StaticSetting(guest).Address is not null || sim.HomeAssistant.StaticAddress(vmid) is not null)
            {
                return LeaseChange.Static;
            }

            if (sim.State.Guests.Values.Any(g => g.Vmid != vmid && g.Running && address.Equals(g.Address)))
            {
                return LeaseChange.Taken;
            }

            sim.IpAllocator.Reserve(vmid, address);
            guest.Address = address;
            guest.AddressPrefix = null;
            if (HomeAssistantMarker.IsMarked(guest))
            {
                homeAssistant = sim.HomeAssistant.Get(vmid);
            }
            else
            {
                sim.Apps.Moved(guest, address);
            }
        }

        homeAssistant?.MoveDhcpAddress(address);
        return LeaseChange.Changed;
    }

    /// <summary>A static <c>ip=10.0.0.5/24</c> (and <c>gw=10.0.0.1</c>) on the first NIC: the guest's address, prefix and gateway.</summary>
    private static (IPAddress? Address, int? Prefix, IPAddress? Gateway) StaticSetting(SimGuest guest)
    {
        var first = guest.Nets.Select(n => n.Value).FirstOrDefault();
        var keys = first?.Split(',').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]) ?? [];
        if (!keys.TryGetValue("ip", out var ip) || ip.IndexOf('/') is var slash && slash < 0
            || !IPAddress.TryParse(ip[..slash], out var address)
            || !int.TryParse(ip[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix))
        {
            return (null, null, null);
        }

        return (address, prefix, keys.TryGetValue("gw", out var gw) && IPAddress.TryParse(gw, out var gateway) ? gateway : null);
    }

    private static string? PrimaryMac(SimGuest guest)
    {
        var first = guest.Nets.Select(n => n.Value).FirstOrDefault();
        if (first is null)
        {
            return null;
        }

        foreach (var part in first.Split(','))
        {
            var kv = part.Split('=', 2);
            if (kv.Length == 2 && (kv[0] is "hwaddr" or "macaddr" || kv[1].Count(c => c == ':') == 5))
            {
                return kv[1];
            }
        }

        return null;
    }
}
