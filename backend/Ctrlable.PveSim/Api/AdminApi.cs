using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Api;

/// <summary>Emulator controls outside /api2 (no Proxmox auth; loopback only): faults, the task log, guests' apps and update routines, DHCP leases and what a guest's Home Assistant holds.</summary>
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
            : NoApp(vmid));
        app.MapPost("/_sim/guests/{vmid:int}/app/stop", async (int vmid) => await sim.StopAppAsync(vmid)
            ? Results.Ok(new { vmid, running = false })
            : NoApp(vmid));
        app.MapPost("/_sim/guests/{vmid:int}/app/start", (int vmid) => sim.StartApp(vmid)
            ? Results.Ok(new { vmid, running = true })
            : NoApp(vmid));

        // What a guest's Home Assistant holds (Supervisor's host settings, the backup it restored, its owner), for tests
        // outside the process that check what the orchestrator set there (the browser tests).
        app.MapGet("/_sim/guests/{vmid:int}/homeassistant", (int vmid) => sim.HomeAssistant.Get(vmid) is { } ha
            ? Results.Ok(HomeAssistantView(vmid, ha))
            : Results.NotFound(new { message = $"guest {vmid} runs no emulated Home Assistant" }));

        // A guest's update routine fails (its mirror is down, say) until the failure is cleared: PUT {message}, DELETE.
        app.MapPut("/_sim/guests/{vmid:int}/update-failure", (int vmid, UpdateFailureRequest request) =>
            string.IsNullOrWhiteSpace(request.Message)
                ? Results.BadRequest(new { message = "message: the error the update routine fails with is required" })
                : FailUpdates(sim, vmid, request.Message.Trim()));
        app.MapDelete("/_sim/guests/{vmid:int}/update-failure", (int vmid) => FailUpdates(sim, vmid, null));

        // A node drops off the network and comes back; an admin (or HA) migrates a guest.
        app.MapPost("/_sim/nodes/{node}/offline", (string node) => NodeResult(Cluster.ClusterControl.SetOnline(sim, node, online: false), node, online: false));
        app.MapPost("/_sim/nodes/{node}/online", (string node) => NodeResult(Cluster.ClusterControl.SetOnline(sim, node, online: true), node, online: true));
        app.MapPost("/_sim/guests/{vmid:int}/migrate", (int vmid, MigrateRequest request) =>
            string.IsNullOrWhiteSpace(request.Target)
                ? Results.BadRequest(new { message = "target: the node to migrate to is required" })
                : Cluster.ClusterControl.Migrate(sim, vmid, request.Target) switch
                {
                    (Cluster.MigrationStart.Started, var upid) => Results.Ok(new { vmid, target = request.Target, upid }),
                    (Cluster.MigrationStart.UnknownGuest, _) => Results.NotFound(new { message = $"no guest {vmid}" }),
                    (Cluster.MigrationStart.UnknownNode, _) => Results.NotFound(new { message = $"no such cluster node '{request.Target}'" }),
                    _ => Results.Conflict(new { message = $"guest {vmid} is on {request.Target} already" }),
                });

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

    private static IResult FailUpdates(SimContext sim, int vmid, string? message) =>
        sim.Options.BootBehaviour is Guests.IGuestUpdateFaults faults && faults.FailUpdates(vmid, message)
            ? Results.Ok(new { vmid, failure = message })
            : Results.NotFound(new { message = $"guest {vmid} has no update routine the emulator controls (an LXC guest's first boot sets it up)" });

    private static IResult NodeResult(Cluster.NodeChange change, string node, bool online) => change == Cluster.NodeChange.Changed
        ? Results.Ok(new { node, online })
        : Results.NotFound(new { message = $"no such cluster node '{node}'" });

    private static IResult NoApp(int vmid) => Results.NotFound(new { message = $"guest {vmid} is not running or runs no emulated app" });

    private static object HomeAssistantView(int vmid, Ctrlable.HaSim.HaSimulator ha)
    {
        var state = ha.State;
        var host = ha.Host;
        return new
        {
            vmid,
            phase = state.Phase.ToString(),
            address = ha.Address.ToString(),
            hostname = host.Hostname,
            ipv4 = new { method = host.Ipv4Method, address = host.Ipv4Address, gateway = host.Ipv4Gateway, nameservers = host.Ipv4Nameservers },
            owner = state.Owner is { } owner ? state.Credentials.FirstOrDefault(c => c.UserId == owner.Id)?.Username : null,
            uploadedBackups = state.UploadedBackups,
            restoredBackupId = state.RestoredBackupId,
        };
    }

    internal sealed record LeaseRequest(string? Address);

    internal sealed record MigrateRequest(string? Target);

    internal sealed record UpdateFailureRequest(string? Message);
}
