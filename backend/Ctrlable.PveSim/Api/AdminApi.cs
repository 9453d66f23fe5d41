using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Api;

/// <summary>Emulator controls outside /api2 (no Proxmox auth; loopback only): faults, the task log, guests' apps and DHCP leases.</summary>
internal static class AdminApi
{
    public static void Map(WebApplication app, SimContext sim)
    {
        app.MapGet("/_sim/faults", () => TypedResults.Ok(sim.Faults.Settings));
        app.MapPut("/_sim/faults", (FaultSettings settings) =>
        {
            sim.Faults.Settings = settings;
            return TypedResults.Ok(sim.Faults.Settings);
        });
        app.MapGet("/_sim/tasks", () => TypedResults.Ok(sim.Tasks.Records));

        // A guest's web app, as systemctl stop/start inside the guest would (the guest keeps running).
        app.MapGet("/_sim/guests/{vmid:int}/app", (int vmid) => sim.AppRunning(vmid) is { } running
            ? Results.Ok(new { vmid, running })
            : Results.NotFound(new { message = $"guest {vmid} is not running or runs no emulated app" }));
        app.MapPost("/_sim/guests/{vmid:int}/app/stop", async (int vmid) => await sim.StopAppAsync(vmid)
            ? Results.Ok(new { vmid, running = false })
            : Results.NotFound(new { message = $"guest {vmid} is not running or runs no emulated app" }));
        app.MapPost("/_sim/guests/{vmid:int}/app/start", (int vmid) => sim.StartApp(vmid)
            ? Results.Ok(new { vmid, running = true })
            : Results.NotFound(new { message = $"guest {vmid} is not running or runs no emulated app" }));

        // The LAN's DHCP server moves a running guest to another address (a lease that changed).
        app.MapPost("/_sim/guests/{vmid:int}/address", (int vmid, LeaseRequest request) =>
            !System.Net.IPAddress.TryParse(request.Address, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
                ? Results.BadRequest(new { message = "address: an IPv4 address is required" })
                : Guests.GuestRuntime.ChangeLease(sim, vmid, address) switch
                {
                    Guests.LeaseChange.Changed => Results.Ok(new { vmid, address = address.ToString() }),
                    Guests.LeaseChange.NotRunning => Results.NotFound(new { message = $"guest {vmid} is not running or its network is not up" }),
                    Guests.LeaseChange.Static => Results.Conflict(new { message = $"guest {vmid} has a static address: DHCP does not move it" }),
                    _ => Results.Conflict(new { message = $"another running guest holds {address}" }),
                });
    }

    internal sealed record LeaseRequest(string? Address);
}
