using Ctrlable.PveSim.Api;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Cluster;

/// <summary>What happens to a cluster from outside its API: a node dropping off the network and coming back, an admin's migration.</summary>
public enum NodeChange
{
    Changed,
    UnknownNode,
}

/// <summary>An admin's migration (the GUI's Migrate button, or HA moving a guest), as <c>/_sim</c> and tests start it.</summary>
public enum MigrationStart
{
    Started,
    UnknownGuest,
    UnknownNode,
    SameNode,
}

internal static class ClusterControl
{
    /// <summary>
    /// Takes a node off the network (a cable pulled, a switch down) or brings it back. Offline, pveproxy's requests for it
    /// fail with 595 "No route to host", /cluster/resources shows it <c>offline</c>, its guests and storages <c>unknown</c>;
    /// its guests keep running on it unseen and are there again, as they were, once it is back.
    /// </summary>
    public static NodeChange SetOnline(SimContext sim, string node, bool online)
    {
        lock (sim.State.Sync)
        {
            if (!sim.State.Nodes.TryGetValue(node, out var n))
            {
                return NodeChange.UnknownNode;
            }

            n.Online = online;
            return NodeChange.Changed;
        }
    }

    /// <summary>Migrates a guest as root@pam would from the GUI: a running VM live, a running CT by restart migration.</summary>
    public static (MigrationStart Outcome, string? Upid) Migrate(SimContext sim, int vmid, string target)
    {
        string node;
        GuestKind kind;
        bool running;
        lock (sim.State.Sync)
        {
            if (sim.State.Guest(vmid) is not { } guest)
            {
                return (MigrationStart.UnknownGuest, null);
            }

            if (!sim.State.Nodes.ContainsKey(target))
            {
                return (MigrationStart.UnknownNode, null);
            }

            if (guest.Node == target)
            {
                return (MigrationStart.SameNode, null);
            }

            (node, kind, running) = (guest.Node, guest.Kind, guest.Running);
        }

        var task = MigrateApi.Start(sim, node, kind, vmid, target, "root@pam", online: running && kind == GuestKind.Qemu);
        return (MigrationStart.Started, task.Upid.ToString());
    }
}
