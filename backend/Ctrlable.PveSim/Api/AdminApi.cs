using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Api;

/// <summary>Emulator controls outside /api2 (no Proxmox auth; loopback only): faults, the task log and guests' apps.</summary>
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
    }
}
