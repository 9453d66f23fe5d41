using System.Globalization;
using System.Text.Json.Nodes;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>status/start|stop|shutdown|reboot with the synchronous checks each has in pve-container / qemu-server.</summary>
internal static class PowerApi
{
    private enum Action
    {
        Start,
        Stop,
        Shutdown,
        Reboot,
    }

    public static void Map(PveRouter router)
    {
        foreach (var kind in new[] { "lxc", "qemu" })
        {
            router
                .Map("POST", $"/nodes/{{node}}/{kind}/{{vmid}}/status/start", r => Power(r, Action.Start))
                .Map("POST", $"/nodes/{{node}}/{kind}/{{vmid}}/status/stop", r => Power(r, Action.Stop))
                .Map("POST", $"/nodes/{{node}}/{kind}/{{vmid}}/status/shutdown", r => Power(r, Action.Shutdown))
                .Map("POST", $"/nodes/{{node}}/{kind}/{{vmid}}/status/reboot", r => Power(r, Action.Reboot));
        }
    }

    private static JsonNode Power(PveRequest r, Action action)
    {
        var sim = r.Sim;
        var kind = ApiHelpers.KindOf(r);
        var vmid = r.Vmid;
        var skiplock = r.OptionalFlag("skiplock"); // reboot has none
        if (skiplock && r.AuthId != "root@pam")
        {
            throw PveException.ParamError("skiplock", "Only root may use this option.");
        }

        lock (sim.State.Sync)
        {
            var guest = sim.State.Guest(vmid);
            var running = guest is not null && guest.Kind == kind && guest.Node == r.Node && guest.Running;

            // check_running happens before anything is loaded, so a missing guest fails later, in the task.
            switch (action)
            {
                case Action.Start when kind == GuestKind.Lxc && running:
                    throw PveException.Die($"CT {vmid} already running");
                case Action.Stop or Action.Shutdown when kind == GuestKind.Lxc && !running:
                    throw PveException.Die($"CT {vmid} not running");
                case Action.Reboot when !running:
                    throw PveException.Die($"VM {vmid} not running"); // pve-container says "VM" here too
            }
        }

        var prefix = kind == GuestKind.Lxc ? "vz" : "qm";
        var type = prefix + action.ToString().ToLowerInvariant();
        var duration = action switch
        {
            Action.Start => sim.Timings.Start,
            Action.Stop => sim.Timings.Stop,
            Action.Shutdown => sim.Timings.Shutdown,
            _ => sim.Timings.Reboot,
        };

        var task = sim.Tasks.Start(r.Node, type, vmid.ToString(CultureInfo.InvariantCulture), r.AuthId, duration, async (t, ct) =>
        {
            await sim.Clock.Delay(duration, ct);
            lock (sim.State.Sync)
            {
                var guest = sim.State.Guest(vmid);
                if (guest is null || guest.Kind != kind || guest.Node != r.Node)
                {
                    throw new TaskFailedException(PveException.NoConfig(r.Node, kind == GuestKind.Lxc ? "lxc" : "qemu", vmid).Message);
                }

                if (action == Action.Start && guest.IsTemplate)
                {
                    throw new TaskFailedException(kind == GuestKind.Lxc
                        ? "you can't start a CT if it's a template"
                        : "you can't start a vm if it's a template");
                }

                if (!skiplock && guest.Lock is not (null or "mounted"))
                {
                    ApiHelpers.CheckLock(guest);
                }

                t.FailIfInjected();
                switch (action)
                {
                    case Action.Start when guest.Running:
                        throw new TaskFailedException($"VM {vmid} already running");
                    case Action.Start:
                        GuestRuntime.Started(sim, guest);
                        break;
                    case Action.Stop or Action.Shutdown:
                        GuestRuntime.Stopped(sim, guest);
                        break;
                    case Action.Reboot:
                        GuestRuntime.Stopped(sim, guest);
                        GuestRuntime.Started(sim, guest);
                        break;
                }
            }
        });

        return task.Upid.ToString();
    }
}
