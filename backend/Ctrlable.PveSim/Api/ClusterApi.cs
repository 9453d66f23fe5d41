using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Api;

/// <summary>/version, /cluster/resources, /cluster/nextid, /cluster/tasks.</summary>
internal static class ClusterApi
{
    public static void Map(PveRouter router) => router
        .Map("GET", "/version", Version)
        .Map("GET", "/cluster/resources", Resources)
        .Map("GET", "/cluster/nextid", NextId)
        .Map("GET", "/cluster/tasks", TaskApi.ClusterTasks);

    private static JsonNode Version(PveRequest r) => new JsonObject
    {
        ["version"] = r.Sim.Options.Version.ManagerVersion(),
        ["release"] = r.Sim.Options.Version.Release(),
        ["repoid"] = r.Sim.Options.Version.RepoId(),
    };

    private static JsonNode Resources(PveRequest r)
    {
        var type = r.Get("type");
        var state = r.Sim.State;
        var access = state.Access;
        var result = new JsonArray();
        lock (state.Sync)
        {
            if (type is null)
            {
                foreach (var pool in access.Pools.Values.Where(p => access.Check(r.AuthId, $"/pool/{p.PoolId}", ["Pool.Audit"], noError: true)))
                {
                    result.Add(new JsonObject { ["id"] = $"/pool/{pool.PoolId}", ["pool"] = pool.PoolId, ["type"] = "pool" });
                }
            }

            if (type is null or "vm")
            {
                foreach (var g in state.Guests.Values)
                {
                    if (!access.Check(r.AuthId, $"/vms/{g.Vmid}", ["VM.Audit"], noError: true))
                    {
                        continue;
                    }

                    var entry = GuestViews.Resource(r, g);
                    if (g.Lock is { } lockName)
                    {
                        entry["lock"] = lockName;
                    }

                    if (g.Config.TryGetValue("tags", out var tags))
                    {
                        entry["tags"] = tags;
                    }

                    if (access.PoolOf(g.Vmid) is { } pool && access.Check(r.AuthId, $"/pool/{pool}", ["Pool.Audit"], noError: true))
                    {
                        entry["pool"] = pool;
                    }

                    result.Add(entry);
                }
            }

            if (type is null or "node")
            {
                foreach (var node in state.Nodes.Values)
                {
                    var entry = NodeApi.NodeEntry(r, node);
                    entry["cgroup-mode"] = 2;
                    if (r.Sim.Options.Version == PveVersion.V9_1)
                    {
                        entry["host-arch"] = "x86_64";
                    }

                    result.Add(entry);
                }
            }

            if (type is null or "storage")
            {
                foreach (var storage in state.Storages.Values.Where(s => access.Check(r.AuthId, $"/storage/{s.Id}", ["Datastore.Audit"], noError: true)))
                {
                    foreach (var node in state.Nodes.Keys.Where(storage.AvailableOn))
                    {
                        result.Add(new JsonObject
                        {
                            ["id"] = $"storage/{node}/{storage.Id}",
                            ["storage"] = storage.Id,
                            ["node"] = node,
                            ["type"] = "storage",
                            ["plugintype"] = storage.Type,
                            ["status"] = state.Nodes[node].Online ? "available" : "unknown",
                            ["shared"] = storage.Shared ? 1 : 0,
                            ["content"] = storage.Content,
                            ["maxdisk"] = storage.TotalBytes,
                            ["disk"] = state.UsedBytes(storage, node),
                        });
                    }
                }
            }

            if (type is null or "sdn")
            {
                foreach (var node in state.Nodes.Keys)
                {
                    result.Add(new JsonObject
                    {
                        ["id"] = $"sdn/{node}/localnetwork",
                        ["sdn"] = "localnetwork",
                        ["node"] = node,
                        ["type"] = "sdn",
                        ["status"] = "ok",
                    });
                }
            }
        }

        return result;
    }

    /// <summary>Returned as a JSON string in practice, though the schema says integer.</summary>
    private static JsonNode NextId(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            if (r.Int("vmid") is { } wanted)
            {
                if (r.Sim.State.Guests.ContainsKey(wanted))
                {
                    throw PveException.ParamError("vmid", $"VM {wanted} already exists");
                }

                return JsonValue.Create(wanted.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            return JsonValue.Create(r.Sim.State.NextFreeVmid().ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
