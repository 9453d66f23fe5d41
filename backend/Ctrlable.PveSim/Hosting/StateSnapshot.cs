using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.PveSim.Hosting;

/// <summary>
/// The persistent part of the state as JSON, so a standalone emulator keeps its guests, tokens and node
/// certificates (and thus fingerprints) across restarts. Tasks are not kept.
/// </summary>
internal sealed record StateSnapshot
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public required PveVersion Version { get; init; }

    public required string MacPrefix { get; init; }

    public required List<NodeDto> Nodes { get; init; }

    public required List<StorageDto> Storages { get; init; }

    public required List<GuestDto> Guests { get; init; }

    public required List<UserDto> Users { get; init; }

    public required Dictionary<string, List<string>> Groups { get; init; }

    public required Dictionary<string, List<string>> Roles { get; init; }

    public required List<AclEntry> Acl { get; init; }

    public required List<PoolDto> Pools { get; init; }

    public static StateSnapshot Capture(SimContext sim)
    {
        var state = sim.State;
        lock (state.Sync)
        {
            var access = state.Access;
            return new StateSnapshot
            {
                Version = state.Version,
                MacPrefix = state.MacPrefix,
                Nodes = state.Nodes.Values.Select(n => new NodeDto(n.Name, Convert.ToBase64String(n.Certificate.Export(X509ContentType.Pkcs12)), n.BootTime, n.MaxCpu, n.MaxMem, n.Online)).ToList(),
                Storages = state.Storages.Values.Select(s => new StorageDto(s.Id, s.Type, s.Content, s.Shared, s.TotalBytes, s.Nodes?.ToList()) { Files = s.Files.Count == 0 ? null : [.. s.Files.Values] }).ToList(),
                Guests = state.Guests.Values.Select(g => new GuestDto(
                    g.Vmid, g.Kind, g.Node, new Dictionary<string, string>(g.Config), g.Running, g.CreatedAt, g.Address?.ToString(), g.FirstBootDone, g.ClonedFrom, g.LinkedTo,
                    sim.HomeAssistant.CoreOnDisk(g))).ToList(),
                Users = access.Users.Values.Select(u => new UserDto(
                    u.UserId, u.Enabled, u.Expire, u.Tokens.Values.Select(t => new TokenDto(t.Name, t.Secret, t.Privsep, t.Expire, t.Comment)).ToList())).ToList(),
                Groups = access.Groups.ToDictionary(g => g.Key, g => g.Value.ToList()),
                Roles = access.Roles.Where(r => !access.BuiltIn.Contains(r.Key)).ToDictionary(r => r.Key, r => r.Value.ToList()),
                Acl = [.. access.Acl],
                Pools = access.Pools.Values.Select(p => new PoolDto(p.PoolId, p.Comment, [.. p.Vms], [.. p.Storages])).ToList(),
            };
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static StateSnapshot FromJson(string json) =>
        JsonSerializer.Deserialize<StateSnapshot>(json, Json) ?? throw new InvalidDataException("empty snapshot");

    /// <summary>Loads into a fresh state; running guests come back up (boot again) on restart.</summary>
    public void Restore(SimContext sim)
    {
        var state = sim.State;
        if (Version != state.Version)
        {
            throw new InvalidDataException($"snapshot was taken from an emulated {Version.Release()}, not {state.Version.Release()}");
        }

        lock (state.Sync)
        {
            state.MacPrefix = MacPrefix;
            state.Nodes.Clear();
            foreach (var n in Nodes)
            {
                state.Nodes[n.Name] = new SimNode(n.Name, NodeCertificates.Import(Convert.FromBase64String(n.CertificatePkcs12)), n.BootTime)
                {
                    MaxCpu = n.MaxCpu,
                    MaxMem = n.MaxMem,
                    Online = n.Online,
                };
            }

            state.Storages.Clear();
            foreach (var s in Storages)
            {
                var storage = state.AddStorage(s.Id, s.Type, s.Content, s.Shared, s.TotalBytes, s.Nodes);
                foreach (var file in s.Files ?? [])
                {
                    storage.Files[file.VolId] = file;
                }
            }

            var access = state.Access;
            foreach (var u in Users)
            {
                var user = access.AddUser(u.UserId, u.Enabled);
                user.Expire = u.Expire;
                foreach (var t in u.Tokens)
                {
                    access.AddToken(u.UserId, t.Name, t.Privsep, t.Secret);
                    user.Tokens[t.Name].Expire = t.Expire;
                    user.Tokens[t.Name].Comment = t.Comment;
                }
            }

            foreach (var (group, members) in Groups)
            {
                access.AddGroup(group, [.. members]);
            }

            foreach (var (role, privs) in Roles)
            {
                access.AddRole(role, privs);
            }

            foreach (var p in Pools)
            {
                var pool = access.AddPool(p.PoolId, p.Comment);
                pool.Vms.UnionWith(p.Vms);
                pool.Storages.UnionWith(p.Storages);
            }

            foreach (var e in Acl)
            {
                access.SetAcl(e.Path, e.Subject, e.Role, e.Propagate);
            }

            state.Guests.Clear();
            foreach (var g in Guests)
            {
                var guest = new SimGuest(g.Vmid, g.Kind, g.Node, g.CreatedAt)
                {
                    FirstBootDone = g.FirstBootDone,
                    ClonedFrom = g.ClonedFrom,
                    LinkedTo = g.LinkedTo,
                    HomeAssistantCoreOnDisk = g.HomeAssistantCoreOnDisk,
                };
                foreach (var (k, v) in g.Config)
                {
                    guest.Config[k] = v;
                }

                state.Guests[g.Vmid] = guest;
                if (g.Address is not null)
                {
                    sim.IpAllocator.Reserve(g.Vmid, IPAddress.Parse(g.Address));
                }

                if (g.Running)
                {
                    GuestRuntime.Started(sim, guest);
                }
            }
        }
    }

    public sealed record NodeDto(string Name, string CertificatePkcs12, DateTimeOffset BootTime, int MaxCpu, long MaxMem, bool Online);

    public sealed record StorageDto(string Id, string Type, string Content, bool Shared, long TotalBytes, List<string>? Nodes)
    {
        /// <summary>Templates and images on the storage; absent in snapshots of older emulators.</summary>
        public List<StoredVolume>? Files { get; init; }
    }

    public sealed record GuestDto(int Vmid, GuestKind Kind, string Node, Dictionary<string, string> Config, bool Running, DateTimeOffset CreatedAt, string? Address, bool FirstBootDone, int? ClonedFrom, int? LinkedTo,
        bool HomeAssistantCoreOnDisk = false);

    public sealed record UserDto(string UserId, bool Enabled, long Expire, List<TokenDto> Tokens);

    public sealed record TokenDto(string Name, string Secret, bool Privsep, long Expire, string? Comment);

    public sealed record PoolDto(string PoolId, string? Comment, List<int> Vms, List<string> Storages);
}
