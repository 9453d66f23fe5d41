using System.Globalization;
using System.Text.Json.Nodes;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Tasks;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// POST .../migrate of qemu-server (migrate_vm) and pve-container (migrate_vm): the synchronous checks, then a
/// qmigrate/vzmigrate task on the source node that holds <c>lock: migrate</c> and moves the guest's config to the target.
/// </summary>
internal static class MigrateApi
{
    public static void Map(PveRouter router) => router
        .Map("POST", "/nodes/{node}/lxc/{vmid}/migrate", r => Migrate(r, GuestKind.Lxc))
        .Map("POST", "/nodes/{node}/qemu/{vmid}/migrate", r => Migrate(r, GuestKind.Qemu));

    private static JsonNode Migrate(PveRequest r, GuestKind kind)
    {
        var target = r.Get("target")!;
        var online = r.Flag("online") == true;
        var restart = kind == GuestKind.Lxc && r.Flag("restart") == true;

        // raise_param_exc({ target => "target is local node."}); check_node_exists; load_config; check_running.
        if (target == r.Node)
        {
            throw PveException.ParamError("target", "target is local node.");
        }

        lock (r.Sim.State.Sync)
        {
            ApiHelpers.RequireNode(r, target);
            var guest = ApiHelpers.Load(r);
            if (guest.Running && kind == GuestKind.Qemu && !online)
            {
                throw PveException.Die("can't migrate running VM without --online");
            }

            if (guest.Running && kind == GuestKind.Lxc && !online && !restart)
            {
                throw PveException.Die("can't migrate running container without --online or --restart");
            }
        }

        return Start(r.Sim, r.Node, kind, r.Vmid, target, r.AuthId, online).Upid.ToString();
    }

    /// <summary>
    /// The migration task (also what an admin's migration through <c>/_sim</c> runs). Its checks are those of
    /// PVE::AbstractMigrate's prepare: the config lock, the target online (ssh), live LXC refused, every local volume's
    /// storage available on the target (storage_migrate copies it there).
    /// </summary>
    public static SimTask Start(SimContext sim, string node, GuestKind kind, int vmid, string target, string user, bool online)
    {
        var type = kind == GuestKind.Lxc ? "vzmigrate" : "qmigrate";
        var duration = kind == GuestKind.Lxc ? sim.Timings.Stop + sim.Timings.Start + sim.Timings.Template : sim.Timings.Template * 3;
        return sim.Tasks.Start(node, type, vmid.ToString(CultureInfo.InvariantCulture), user, duration, async (t, ct) =>
        {
            SimGuest guest;
            bool restartAfter;
            lock (sim.State.Sync)
            {
                guest = sim.State.Guest(vmid) is { } g && g.Kind == kind && g.Node == node
                    ? g
                    : throw new TaskFailedException(PveException.NoConfig(node, kind == GuestKind.Lxc ? "lxc" : "qemu", vmid).Message);
                ApiHelpers.CheckLock(guest);
                t.Log($"starting migration of {guest.Word} {vmid} to node '{target}'");
                if (!sim.State.Nodes[target].Online)
                {
                    throw new TaskFailedException("migration aborted (duration 00:00:03): Can't connect to destination address using public key");
                }

                if (kind == GuestKind.Lxc && guest.Running && online)
                {
                    throw new TaskFailedException("migration aborted: lxc live migration is currently not implemented");
                }

                foreach (var (_, disk) in guest.Disks)
                {
                    var storage = sim.State.Storages.GetValueOrDefault(disk.StorageId);
                    if (storage is null || storage.Shared)
                    {
                        continue;
                    }

                    if (!storage.AvailableOn(target))
                    {
                        throw new TaskFailedException($"migration aborted: storage '{storage.Id}' is not available on node '{target}'");
                    }
                }

                guest.Config["lock"] = "migrate";
                restartAfter = kind == GuestKind.Lxc && guest.Running;
                if (restartAfter)
                {
                    t.Log($"shutdown CT {vmid}");
                    GuestRuntime.Stopped(sim, guest);
                }
            }

            try
            {
                await sim.Clock.Delay(duration, ct);
                t.FailIfInjected();
            }
            catch (TaskFailedException)
            {
                lock (sim.State.Sync)
                {
                    guest.Config.Remove("lock");
                    if (restartAfter)
                    {
                        GuestRuntime.Started(sim, guest);
                    }
                }

                throw;
            }

            lock (sim.State.Sync)
            {
                guest.Node = target;
                guest.Config.Remove("lock");
                t.Log($"migration finished successfully (duration 00:00:0{(int)Math.Min(9, duration.TotalSeconds)})");
                if (restartAfter)
                {
                    t.Log($"start container on target node");
                    GuestRuntime.Started(sim, guest);
                }
            }
        });
    }
}
