using System.Text.Json.Nodes;
using Ctrlable.PveSim.Auth;

namespace Ctrlable.PveSim.Api;

/// <summary>/pools and /pools/{poolid}: list (Pool.Audit), create, read, add/remove members, delete when empty.</summary>
internal static class PoolApi
{
    public static void Map(PveRouter router) => router
        .Map("GET", "/pools", List)
        .Map("POST", "/pools", Create)
        .Map("PUT", "/pools", Update)
        .Map("DELETE", "/pools", Delete)
        .Map("GET", "/pools/{poolid}", Read)
        .Map("PUT", "/pools/{poolid}", Update)
        .Map("DELETE", "/pools/{poolid}", Delete);

    private static JsonNode List(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            var wanted = r.Get("poolid");
            var pools = access.Pools.Values
                .Where(p => wanted is null || p.PoolId == wanted)
                .Where(p => access.Check(r.AuthId, $"/pool/{p.PoolId}", ["Pool.Audit"], noError: true));
            return ApiHelpers.Array(pools.Select(p =>
            {
                var o = new JsonObject { ["poolid"] = p.PoolId };
                if (p.Comment is not null)
                {
                    o["comment"] = p.Comment;
                }

                if (wanted is not null)
                {
                    o["members"] = Members(r, p);
                }

                return (JsonNode)o;
            }));
        }
    }

    private static JsonNode Read(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var pool = Find(r);
            var o = new JsonObject { ["members"] = Members(r, pool) };
            if (pool.Comment is not null)
            {
                o["comment"] = pool.Comment;
            }

            return o;
        }
    }

    private static JsonNode? Create(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var id = r.Get("poolid")!;
            if (r.Sim.State.Access.Pools.ContainsKey(id))
            {
                throw PveException.Die($"create pool failed: pool '{id}' already exists");
            }

            r.Sim.State.Access.AddPool(id, r.Get("comment"));
            return null;
        }
    }

    private static JsonNode? Update(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var pool = Find(r);
            var access = r.Sim.State.Access;
            var remove = r.Flag("delete") == true;
            if (r.Has("comment"))
            {
                pool.Comment = r.Get("comment");
            }

            foreach (var text in Schema.Formats.SplitList(r.Get("vms") ?? ""))
            {
                var vmid = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
                access.Check(r.AuthId, $"/vms/{vmid}", ["VM.Allocate", "Permissions.Modify"], any: true);
                if (remove)
                {
                    pool.Vms.Remove(vmid);
                    continue;
                }

                if (r.Sim.State.Guest(vmid) is null)
                {
                    throw PveException.Die($"no such VM '{vmid}'");
                }

                if (access.PoolOf(vmid) is { } other && other != pool.PoolId)
                {
                    if (r.Flag("allow-move") != true)
                    {
                        throw PveException.Die($"VM {vmid} belongs already to pool '{other}' and 'allow-move' is not set");
                    }

                    access.Pools[other].Vms.Remove(vmid);
                }

                pool.Vms.Add(vmid);
            }

            foreach (var storage in Schema.Formats.SplitList(r.Get("storage") ?? ""))
            {
                access.Check(r.AuthId, $"/storage/{storage}", ["Datastore.Allocate", "Permissions.Modify"], any: true);
                if (remove)
                {
                    pool.Storages.Remove(storage);
                }
                else if (!r.Sim.State.Storages.ContainsKey(storage))
                {
                    throw PveException.Die($"no such storage '{storage}'");
                }
                else
                {
                    pool.Storages.Add(storage);
                }
            }

            return null;
        }
    }

    private static JsonNode? Delete(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var pool = Find(r);
            if (pool.Vms.Count > 0 || pool.Storages.Count > 0)
            {
                throw PveException.Die("pool not empty");
            }

            r.Sim.State.Access.Pools.Remove(pool.PoolId);
            return null;
        }
    }

    private static SimPool Find(PveRequest r)
    {
        var id = r.Get("poolid")!;
        return r.Sim.State.Access.Pools.GetValueOrDefault(id) ?? throw PveException.Die($"pool '{id}' does not exist");
    }

    private static JsonArray Members(PveRequest r, SimPool pool)
    {
        var members = new JsonArray();
        foreach (var vmid in pool.Vms)
        {
            if (r.Sim.State.Guest(vmid) is { } g && r.Sim.State.Access.Check(r.AuthId, $"/vms/{vmid}", ["VM.Audit"], noError: true))
            {
                var entry = GuestViews.Resource(r, g);
                entry["pool"] = pool.PoolId;
                members.Add(entry);
            }
        }

        foreach (var storage in pool.Storages)
        {
            foreach (var node in r.Sim.State.Nodes.Keys)
            {
                members.Add(new JsonObject
                {
                    ["id"] = $"storage/{node}/{storage}",
                    ["node"] = node,
                    ["storage"] = storage,
                    ["type"] = "storage",
                    ["status"] = "available",
                });
            }
        }

        return members;
    }
}
