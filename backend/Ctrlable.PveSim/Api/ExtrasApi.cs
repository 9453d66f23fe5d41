using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Api;

/// <summary>Discovery calls a client makes when it connects: cluster status, its own permissions, bridges, storages.</summary>
internal static class ExtrasApi
{
    public static void Map(PveRouter router) => router
        .Map("GET", "/cluster/status", ClusterStatus)
        .Map("GET", "/access/permissions", Permissions)
        .Map("GET", "/nodes/{node}/network", Network)
        .Map("GET", "/storage", StorageConfig);

    /// <summary>A "cluster" entry only when clustered, then one entry per node; "local" marks the answering node.</summary>
    private static JsonNode ClusterStatus(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var nodes = r.Sim.State.Nodes.Values.ToList();
            var result = new JsonArray();
            if (nodes.Count > 1)
            {
                result.Add(new JsonObject
                {
                    ["type"] = "cluster",
                    ["id"] = "cluster",
                    ["name"] = r.Sim.State.ClusterName,
                    ["nodes"] = nodes.Count,
                    ["quorate"] = nodes.Count(n => n.Online) * 2 > nodes.Count ? 1 : 0,
                    ["version"] = nodes.Count + 1,
                });
            }

            for (var i = 0; i < nodes.Count; i++)
            {
                result.Add(new JsonObject
                {
                    ["type"] = "node",
                    ["id"] = $"node/{nodes[i].Name}",
                    ["name"] = nodes[i].Name,
                    ["nodeid"] = nodes.Count > 1 ? i + 1 : 0,
                    ["ip"] = r.Sim.Options.ListenAddress,
                    ["online"] = nodes[i].Online ? 1 : 0,
                    ["local"] = nodes[i].Name == r.LocalNode ? 1 : 0,
                    ["level"] = "",
                });
            }

            return result;
        }
    }

    /// <summary>
    /// The caller's (or, with Sys.Audit on /access, another user's) privileges: on one path, or on every
    /// path that matters (top-level paths, ACL paths, pool members) as get_effective_permissions does.
    /// </summary>
    private static JsonNode Permissions(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            var userId = r.Get("userid") ?? r.AuthId;
            if (userId != r.AuthId)
            {
                access.Check(r.AuthId, "/access", ["Sys.Audit"]);
            }

            IEnumerable<string> paths;
            if (r.Get("path") is { Length: > 0 } path)
            {
                paths = [path];
            }
            else
            {
                paths = new[] { "/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms" }
                    .Concat(access.Acl.Select(a => a.Path))
                    .Concat(access.Pools.Values.SelectMany(p => p.Vms.Select(v => $"/vms/{v}").Concat(p.Storages.Select(s => $"/storage/{s}"))))
                    .Distinct(StringComparer.Ordinal);
            }

            var result = new JsonObject();
            foreach (var p in paths)
            {
                var privs = access.Permissions(userId, p);
                if (privs.Count == 0 && r.Get("path") is null)
                {
                    continue;
                }

                var entry = new JsonObject();
                foreach (var priv in privs.Order(StringComparer.Ordinal))
                {
                    entry[priv] = 1;
                }

                result[p] = entry;
            }

            return result;
        }
    }

    private static JsonNode Network(PveRequest r)
    {
        var type = r.Get("type");
        var bridge = new JsonObject
        {
            ["iface"] = "vmbr0",
            ["type"] = "bridge",
            ["active"] = 1,
            ["autostart"] = 1,
            ["bridge_ports"] = "eno1",
            ["bridge_stp"] = "off",
            ["bridge_fd"] = "0",
            ["method"] = "static",
            ["method6"] = "manual",
            ["families"] = new JsonArray("inet"),
            ["cidr"] = "192.168.1.10/24",
            ["address"] = "192.168.1.10",
            ["netmask"] = "24",
            ["gateway"] = "192.168.1.1",
            ["priority"] = 4,
        };
        var nic = new JsonObject
        {
            ["iface"] = "eno1",
            ["type"] = "eth",
            ["active"] = 1,
            ["exists"] = 1,
            ["method"] = "manual",
            ["method6"] = "manual",
            ["families"] = new JsonArray("inet"),
            ["priority"] = 3,
        };
        var result = new JsonArray();
        if (type is null or "bridge" or "any_bridge" or "any_local_bridge" or "include_sdn")
        {
            result.Add(bridge);
        }

        if (type is null or "eth")
        {
            result.Add(nic);
        }

        return result;
    }

    /// <summary>storage.cfg entries the caller may see (Datastore.Audit or Datastore.AllocateSpace).</summary>
    private static JsonNode StorageConfig(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var result = new JsonArray();
            foreach (var s in r.Sim.State.Storages.Values)
            {
                if ((r.Get("type") is { } type && s.Type != type)
                    || !r.Sim.State.Access.Check(r.AuthId, $"/storage/{s.Id}", ["Datastore.Audit", "Datastore.AllocateSpace"], any: true, noError: true))
                {
                    continue;
                }

                var entry = new JsonObject { ["storage"] = s.Id, ["type"] = s.Type, ["content"] = s.Content };
                switch (s.Type)
                {
                    case "dir":
                        entry["path"] = s.Id == "local" ? "/var/lib/vz" : $"/mnt/{s.Id}";
                        break;
                    case "lvmthin":
                        entry["vgname"] = "pve";
                        entry["thinpool"] = "data";
                        break;
                    case "zfspool":
                        entry["pool"] = "rpool/data";
                        break;
                    case "rbd":
                        entry["pool"] = s.Id;
                        entry["krbd"] = 0;
                        break;
                }

                if (s.Shared)
                {
                    entry["shared"] = 1;
                }

                if (s.Nodes is { } nodes)
                {
                    entry["nodes"] = string.Join(',', nodes);
                }

                entry["digest"] = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(entry.ToJsonString())));
                result.Add(entry);
            }

            return result;
        }
    }
}
