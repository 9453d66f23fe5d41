using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Api;

/// <summary>Emulator controls outside /api2 (no Proxmox auth; loopback only): faults and the task log.</summary>
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
    }
}
