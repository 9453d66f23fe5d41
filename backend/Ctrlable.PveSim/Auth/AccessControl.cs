using System.Text.RegularExpressions;
using Ctrlable.PveSim.Api;

namespace Ctrlable.PveSim.Auth;

/// <summary>
/// user.cfg of the emulated cluster: users, tokens, groups, roles, ACLs and pools, with Proxmox's
/// permission computation (path propagation, NoAccess, pool-derived roles, privsep token intersection).
/// Not thread-safe by itself: callers hold <see cref="Cluster.SimState.Sync"/>.
/// </summary>
public sealed partial class AccessControl
{
    private readonly List<AclEntry> _acl = [];

    internal AccessControl(PveVersion version)
    {
        Version = version;
        foreach (var (role, privs) in Privileges.BuiltInRoles(version))
        {
            Roles[role] = [.. privs];
            BuiltIn.Add(role);
        }

        Users["root@pam"] = new SimUser("root@pam");
    }

    public PveVersion Version { get; }

    public Dictionary<string, SimUser> Users { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, HashSet<string>> Groups { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, HashSet<string>> Roles { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, SimPool> Pools { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<AclEntry> Acl => _acl;

    internal HashSet<string> BuiltIn { get; } = new(StringComparer.Ordinal);

    public SimUser AddUser(string userId, bool enabled = true)
    {
        if (!UserIdRe().IsMatch(userId))
        {
            throw new ArgumentException($"invalid user id '{userId}'", nameof(userId));
        }

        if (!Users.TryGetValue(userId, out var user))
        {
            user = Users[userId] = new SimUser(userId);
        }

        user.Enabled = enabled;
        return user;
    }

    /// <summary>Creates (or replaces) a token; the secret is a UUID unless given, as Proxmox generates it.</summary>
    public ApiTokenCredentials AddToken(string userId, string tokenName, bool privsep = true, string? secret = null)
    {
        if (!Users.TryGetValue(userId, out var user))
        {
            throw new ArgumentException($"no such user ('{userId}')", nameof(userId));
        }

        if (!TokenNameRe().IsMatch(tokenName))
        {
            throw new ArgumentException($"invalid token name '{tokenName}'", nameof(tokenName));
        }

        var value = secret ?? Guid.NewGuid().ToString();
        user.Tokens[tokenName] = new SimToken(tokenName, value, privsep);
        return new ApiTokenCredentials($"{userId}!{tokenName}", value);
    }

    /// <summary>Adds a custom role; a privilege the emulated release does not know fails like <c>pveum role add</c>.</summary>
    public void AddRole(string roleId, IEnumerable<string> privileges)
    {
        if (BuiltIn.Contains(roleId))
        {
            throw new ArgumentException($"cannot modify special role '{roleId}'", nameof(roleId));
        }

        var valid = Privileges.Valid(Version);
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var priv in privileges.SelectMany(Schema.Formats.SplitList))
        {
            if (!valid.Contains(priv))
            {
                throw new ArgumentException($"invalid privilege '{priv}'", nameof(privileges));
            }

            set.Add(priv);
        }

        Roles[roleId] = set;
    }

    public void AddGroup(string groupId, params string[] members)
    {
        if (!Groups.TryGetValue(groupId, out var group))
        {
            group = Groups[groupId] = new HashSet<string>(StringComparer.Ordinal);
        }

        group.UnionWith(members);
    }

    public SimPool AddPool(string poolId, string? comment = null)
    {
        if (Schema.Formats.Verify("pve-poolid", poolId) is { } error)
        {
            throw new ArgumentException(error.TrimEnd(), nameof(poolId));
        }

        if (!Pools.TryGetValue(poolId, out var pool))
        {
            pool = Pools[poolId] = new SimPool(poolId);
        }

        pool.Comment = comment;
        return pool;
    }

    /// <summary><c>pveum acl modify PATH --users|--groups|--tokens ID --roles ROLE [--propagate 0]</c>.</summary>
    public void SetAcl(string path, AclSubject subject, string role, bool propagate = true)
    {
        var normalized = NormalizePath(path) ?? throw new ArgumentException($"invalid ACL path '{path}'", nameof(path));
        if (!Roles.ContainsKey(role))
        {
            throw new ArgumentException($"role '{role}' does not exist", nameof(role));
        }

        _acl.RemoveAll(e => e.Path == normalized && e.Subject == subject && e.Role == role);
        _acl.Add(new AclEntry(normalized, subject, role, propagate));
    }

    public void RemoveAcl(string path, AclSubject subject, string role) =>
        _acl.RemoveAll(e => e.Path == NormalizePath(path) && e.Subject == subject && e.Role == role);

    /// <summary>Drops every ACL entry of <paramref name="subject"/> (a removed token or user).</summary>
    public void RemoveSubject(AclSubject subject) => _acl.RemoveAll(e => e.Subject == subject);

    /// <summary>What a destroyed guest loses: its ACL entries and its pool membership (remove_vm_access).</summary>
    public void RemoveVmAccess(int vmid)
    {
        _acl.RemoveAll(e => e.Path == $"/vms/{vmid}");
        foreach (var pool in Pools.Values)
        {
            pool.Vms.Remove(vmid);
        }
    }

    public string? PoolOf(int vmid) => Pools.Values.FirstOrDefault(p => p.Vms.Contains(vmid))?.PoolId;

    /// <summary>
    /// verify_token: <c>USER@REALM!TOKENID=SECRET</c>. Returns the token id (the acting "user" of the request).
    /// Any failure is reported by the caller as 401 "Authentication failed!".
    /// </summary>
    public string VerifyToken(string apiToken, long nowUnix)
    {
        var eq = apiToken.LastIndexOf('=');
        if (eq < 0)
        {
            throw new UnauthorizedAccessException("no tokenid specified");
        }

        var tokenId = apiToken[..eq];
        var value = apiToken[(eq + 1)..];
        var (userId, tokenName) = SplitTokenId(tokenId)
            ?? throw new UnauthorizedAccessException($"'{tokenId}' is not a valid token ID");
        var user = CheckUserEnabled(userId, nowUnix);
        if (!user.Tokens.TryGetValue(tokenName, out var token))
        {
            throw new UnauthorizedAccessException($"no such token '{tokenName}' for user '{userId}'");
        }

        if (token.Expire != 0 && token.Expire < nowUnix)
        {
            throw new UnauthorizedAccessException($"token '{tokenName}' access expired");
        }

        if (!string.Equals(token.Secret, value, StringComparison.Ordinal))
        {
            throw new UnauthorizedAccessException("invalid token value!");
        }

        return tokenId;
    }

    /// <summary>
    /// The privileges <paramref name="authId"/> (a user or a token id) holds on <paramref name="path"/>
    /// (RPCEnvironment::permissions).
    /// </summary>
    public IReadOnlySet<string> Permissions(string authId, string path)
    {
        if (authId == "root@pam")
        {
            return Roles["Administrator"];
        }

        if (SplitTokenId(authId) is var (userId, tokenName))
        {
            if (!Users.TryGetValue(userId, out var owner) || !owner.Tokens.TryGetValue(tokenName, out var token))
            {
                return new HashSet<string>();
            }

            var userPrivs = Permissions(userId, path);
            if (!token.Privsep)
            {
                return userPrivs;
            }

            var tokenPrivs = CompilePrivileges(authId, path);

            // root@pam's own tokens are not intersected (RPCEnvironment: "$username ne 'root@pam'").
            return userId == "root@pam" ? tokenPrivs : tokenPrivs.Intersect(userPrivs).ToHashSet(StringComparer.Ordinal);
        }

        return Users.ContainsKey(authId) ? CompilePrivileges(authId, path) : new HashSet<string>();
    }

    /// <summary>RPCEnvironment::check / check_any; raises 403 "Permission check failed (path, priv)".</summary>
    public bool Check(string authId, string path, IReadOnlyList<string> privileges, bool any = false, bool noError = false)
    {
        var held = Permissions(authId, path);
        if (any)
        {
            if (privileges.Any(held.Contains))
            {
                return true;
            }

            return noError ? false : throw PveException.PermissionDenied($"{path}, {string.Join('|', privileges)}");
        }

        foreach (var priv in privileges)
        {
            if (!held.Contains(priv))
            {
                return noError ? false : throw PveException.PermissionDenied($"{path}, {priv}");
            }
        }

        return true;
    }

    /// <summary>check_vm_perm: the guest's pool path first (quietly), then /vms/{vmid}.</summary>
    public bool CheckVm(string authId, int vmid, IReadOnlyList<string> privileges, bool any = false, bool noError = false)
    {
        if (PoolOf(vmid) is { } pool && Check(authId, $"/pool/{pool}", privileges, any, noError: true))
        {
            return true;
        }

        return Check(authId, $"/vms/{vmid}", privileges, any, noError);
    }

    public static (string UserId, string TokenName)? SplitTokenId(string id)
    {
        var m = TokenIdRe().Match(id);
        return m.Success ? (m.Groups[1].Value, m.Groups[2].Value) : null;
    }

    /// <summary>PVE::AccessControl::normalize_path.</summary>
    public static string? NormalizePath(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        path = MultiSlash().Replace(path, "/").TrimEnd('/');
        if (path.Length == 0)
        {
            path = "/";
        }

        if (!path.StartsWith('/'))
        {
            path = "/" + path;
        }

        return AclPathChars().IsMatch(path) ? path : null;
    }

    private SimUser CheckUserEnabled(string userId, long nowUnix)
    {
        if (!Users.TryGetValue(userId, out var user))
        {
            throw new UnauthorizedAccessException($"no such user ('{userId}')");
        }

        if (!user.Enabled || (user.Expire != 0 && user.Expire < nowUnix))
        {
            throw new UnauthorizedAccessException($"user '{userId}' is disabled");
        }

        return user;
    }

    private HashSet<string> CompilePrivileges(string authId, string path)
    {
        var roles = RolesOn(authId, path);

        // Roles granted on /pool/X apply to the pool's guests and storages (never propagating further).
        if (!roles.ContainsKey("NoAccess"))
        {
            foreach (var pool in Pools.Values)
            {
                var member = (path.StartsWith("/vms/", StringComparison.Ordinal) && int.TryParse(path[5..], out var vmid) && pool.Vms.Contains(vmid))
                    || (path.StartsWith("/storage/", StringComparison.Ordinal) && pool.Storages.Contains(path[9..]));
                if (!member)
                {
                    continue;
                }

                var poolRoles = RolesOn(authId, $"/pool/{pool.PoolId}");
                if (poolRoles.ContainsKey("NoAccess"))
                {
                    roles = new Dictionary<string, bool> { ["NoAccess"] = false };
                    break;
                }

                foreach (var role in poolRoles.Keys)
                {
                    roles.TryAdd(role, false);
                }
            }
        }

        var privs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var role in roles.Keys)
        {
            if (Roles.TryGetValue(role, out var set))
            {
                privs.UnionWith(set);
            }
        }

        return privs;
    }

    /// <summary>
    /// PVE::AccessControl::roles: walk from / to the path; at each level token entries beat user entries beat
    /// group entries, a deeper level replaces what was inherited, and only propagating roles reach sub-paths.
    /// </summary>
    private Dictionary<string, bool> RolesOn(string authId, string path)
    {
        var isToken = SplitTokenId(authId) is not null;
        var levels = new List<string> { "/" };
        var built = "";
        foreach (var segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            built += "/" + segment;
            levels.Add(built);
        }

        var roles = new Dictionary<string, bool>(StringComparer.Ordinal);
        for (var i = 0; i < levels.Count; i++)
        {
            var level = levels[i];
            var final = i == levels.Count - 1;
            var here = _acl.Where(e => e.Path == level && (final || e.Propagate)).ToList();

            var tokenRoles = isToken ? here.Where(e => e.Subject == AclSubject.Token(authId)).ToList() : [];
            if (tokenRoles.Count > 0)
            {
                roles = tokenRoles.ToDictionary(e => e.Role, e => e.Propagate, StringComparer.Ordinal);
                continue;
            }

            var userRoles = here.Where(e => e.Subject == AclSubject.User(authId)).ToList();
            if (userRoles.Count > 0)
            {
                roles = userRoles.ToDictionary(e => e.Role, e => e.Propagate, StringComparer.Ordinal);
                continue;
            }

            var groupRoles = here
                .Where(e => e.Subject.Kind == AclSubjectKind.Group && Groups.TryGetValue(e.Subject.Id, out var members) && members.Contains(authId))
                .ToList();
            if (groupRoles.Count > 0)
            {
                roles = new Dictionary<string, bool>(StringComparer.Ordinal);
                foreach (var e in groupRoles)
                {
                    roles[e.Role] = e.Propagate;
                }
            }
        }

        return roles.TryGetValue("NoAccess", out var p) ? new Dictionary<string, bool> { ["NoAccess"] = p } : roles;
    }

    [GeneratedRegex(@"^([^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$")]
    private static partial Regex TokenIdRe();

    [GeneratedRegex(@"^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$")]
    private static partial Regex UserIdRe();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9.\-_]+$")]
    private static partial Regex TokenNameRe();

    [GeneratedRegex("/+")]
    private static partial Regex MultiSlash();

    [GeneratedRegex(@"^[A-Za-z0-9.\-_/]+$")]
    private static partial Regex AclPathChars();
}
