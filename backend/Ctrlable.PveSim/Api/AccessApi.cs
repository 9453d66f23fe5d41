using System.Text.Json.Nodes;
using Ctrlable.PveSim.Auth;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// user.cfg administration as pveum and an installer use it (pve-access-control API2/User.pm, Role.pm, ACL.pm):
/// users, their API tokens, roles and the ACL. Permissions come from the schema; the checks here are the ones
/// the handlers make themselves (existence, privilege names, ACL targets).
/// </summary>
internal static class AccessApi
{
    public static void Map(PveRouter router) => router
        .Map("GET", "/access/users", ListUsers)
        .Map("POST", "/access/users", CreateUser)
        .Map("GET", "/access/users/{userid}", ReadUser)
        .Map("GET", "/access/users/{userid}/token", ListTokens)
        .Map("GET", "/access/users/{userid}/token/{tokenid}", ReadToken)
        .Map("POST", "/access/users/{userid}/token/{tokenid}", CreateToken)
        .Map("DELETE", "/access/users/{userid}/token/{tokenid}", DeleteToken)
        .Map("GET", "/access/roles", ListRoles)
        .Map("POST", "/access/roles", CreateRole)
        .Map("GET", "/access/roles/{roleid}", ReadRole)
        .Map("PUT", "/access/roles/{roleid}", UpdateRole)
        .Map("GET", "/access/acl", ListAcl)
        .Map("PUT", "/access/acl", UpdateAcl);

    /// <summary>Users the caller may see (User.Modify or Sys.Audit on /access/groups), always including itself.</summary>
    private static JsonNode ListUsers(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            var self = AccessControl.SplitTokenId(r.AuthId)?.UserId ?? r.AuthId;
            var all = access.Check(r.AuthId, "/access/groups", ["User.Modify", "Sys.Audit"], any: true, noError: true);
            var enabledOnly = r.Flag("enabled");
            var full = r.Flag("full") == true;
            return ApiHelpers.Array(access.Users.Values
                .Where(u => all || u.UserId == self)
                .Where(u => enabledOnly is null || u.Enabled == enabledOnly)
                .OrderBy(u => u.UserId, StringComparer.Ordinal)
                .Select(u =>
                {
                    var o = UserInfo(u);
                    o["userid"] = u.UserId;
                    o["realm-type"] = u.UserId[(u.UserId.LastIndexOf('@') + 1)..];
                    if (full)
                    {
                        o["tokens"] = ApiHelpers.Array(u.Tokens.Values.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t =>
                        {
                            var info = TokenInfo(t);
                            info["tokenid"] = t.Name;
                            return (JsonNode)info;
                        }));
                    }

                    return (JsonNode)o;
                }));
        }
    }

    private static JsonNode? CreateUser(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            var userId = r.Get("userid")!;
            if (access.Users.ContainsKey(userId))
            {
                throw PveException.Die($"create user failed: user '{userId}' already exists");
            }

            var user = access.AddUser(userId, enabled: r.Flag("enable") ?? true);
            user.Expire = r.Int("expire") ?? 0;
            user.Comment = r.Get("comment");
            return null;
        }
    }

    private static JsonNode ReadUser(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var user = FindUser(r);
            var o = UserInfo(user);
            var tokens = new JsonObject();
            foreach (var t in user.Tokens.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                tokens[t.Name] = TokenInfo(t);
            }

            o["tokens"] = tokens;
            return o;
        }
    }

    private static JsonNode ListTokens(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            return ApiHelpers.Array(FindUser(r).Tokens.Values.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t =>
            {
                var info = TokenInfo(t);
                info["tokenid"] = t.Name;
                return (JsonNode)info;
            }));
        }
    }

    private static JsonNode ReadToken(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            return TokenInfo(FindToken(r));
        }
    }

    /// <summary>generate_token: the value is shown once, in this answer only.</summary>
    private static JsonNode CreateToken(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var user = FindUser(r);
            var name = r.Get("tokenid")!;
            if (user.Tokens.ContainsKey(name))
            {
                throw PveException.ParamError("tokenid", "Token already exists.");
            }

            var credentials = r.Sim.State.Access.AddToken(user.UserId, name, privsep: r.Flag("privsep") ?? true);
            var token = user.Tokens[name];
            token.Expire = r.Int("expire") ?? 0;
            token.Comment = r.Get("comment") is { Length: > 0 } comment ? comment : null;
            return new JsonObject
            {
                ["info"] = TokenInfo(token),
                ["value"] = credentials.Secret,
                ["full-tokenid"] = credentials.TokenId,
            };
        }
    }

    /// <summary>remove_token; the token's ACL entries go with it (user.cfg drops ACLs of unknown tokens).</summary>
    private static JsonNode? DeleteToken(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var user = FindUser(r);
            var token = FindToken(r);
            user.Tokens.Remove(token.Name);
            r.Sim.State.Access.RemoveSubject(AclSubject.Token($"{user.UserId}!{token.Name}"));
            return null;
        }
    }

    private static JsonNode ListRoles(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            return ApiHelpers.Array(access.Roles.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (JsonNode)new JsonObject
            {
                ["roleid"] = kv.Key,
                ["privs"] = string.Join(',', kv.Value.Order(StringComparer.Ordinal)),
                ["special"] = access.BuiltIn.Contains(kv.Key) ? 1 : 0,
            }));
        }
    }

    private static JsonNode? CreateRole(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            var roleId = r.Get("roleid")!;
            if (access.Roles.ContainsKey(roleId))
            {
                throw PveException.Die($"create role failed: role '{roleId}' already exists");
            }

            access.AddRole(roleId, CheckedPrivileges(r));
            return null;
        }
    }

    /// <summary>A role as a map of privilege name to 1 (only the privileges it holds).</summary>
    private static JsonNode ReadRole(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var roleId = r.Get("roleid")!;
            var privs = r.Sim.State.Access.Roles.GetValueOrDefault(roleId) ?? throw PveException.Die($"role '{roleId}' does not exist");
            var o = new JsonObject();
            foreach (var priv in privs.Order(StringComparer.Ordinal))
            {
                o[priv] = 1;
            }

            return o;
        }
    }

    /// <summary>update_role: replaces the privileges, or adds to them with append=1.</summary>
    private static JsonNode? UpdateRole(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            var roleId = r.Get("roleid")!;
            if (access.BuiltIn.Contains(roleId))
            {
                throw PveException.Die($"update role failed: cannot modify special role '{roleId}'");
            }

            var current = access.Roles.GetValueOrDefault(roleId) ?? throw PveException.Die($"update role failed: role '{roleId}' does not exist");
            var privs = CheckedPrivileges(r);
            access.AddRole(roleId, r.Flag("append") == true ? [.. current, .. privs] : privs);
            return null;
        }
    }

    /// <summary>ACL entries on paths where the caller may modify permissions (root@pam: all).</summary>
    private static JsonNode ListAcl(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            return ApiHelpers.Array(access.Acl
                .Where(e => access.Check(r.AuthId, e.Path, ["Permissions.Modify"], noError: true))
                .Select(e => (JsonNode)new JsonObject
                {
                    ["path"] = e.Path,
                    ["type"] = e.Subject.Kind switch
                    {
                        AclSubjectKind.User => "user",
                        AclSubjectKind.Group => "group",
                        _ => "token",
                    },
                    ["ugid"] = e.Subject.Id,
                    ["roleid"] = e.Role,
                    ["propagate"] = e.Propagate ? 1 : 0,
                }));
        }
    }

    /// <summary>update_acl: every role for every listed user, group and token, or their removal with delete=1.</summary>
    private static JsonNode? UpdateAcl(PveRequest r)
    {
        lock (r.Sim.State.Sync)
        {
            var access = r.Sim.State.Access;
            var path = AccessControl.NormalizePath(r.Get("path")) ?? throw PveException.Die($"ACL update failed: invalid ACL path '{r.Get("path")}'");
            if (!r.Has("users") && !r.Has("groups") && !r.Has("tokens"))
            {
                throw PveException.ParamError("groups", "either 'users', 'groups' or 'tokens' is required.");
            }

            var remove = r.Flag("delete") == true;
            var propagate = r.Flag("propagate") ?? true;
            var subjects = new List<AclSubject>();
            foreach (var group in Schema.Formats.SplitList(r.Get("groups") ?? ""))
            {
                if (!remove && !access.Groups.ContainsKey(group))
                {
                    throw PveException.Die($"ACL update failed: group '{group}' does not exist");
                }

                subjects.Add(AclSubject.Group(group));
            }

            foreach (var user in Schema.Formats.SplitList(r.Get("users") ?? ""))
            {
                if (!remove && !access.Users.ContainsKey(user))
                {
                    throw PveException.Die($"ACL update failed: user '{user}' does not exist");
                }

                subjects.Add(AclSubject.User(user));
            }

            foreach (var tokenId in Schema.Formats.SplitList(r.Get("tokens") ?? ""))
            {
                if (!remove && (AccessControl.SplitTokenId(tokenId) is not var (userId, name)
                    || !access.Users.TryGetValue(userId, out var owner) || !owner.Tokens.ContainsKey(name)))
                {
                    throw PveException.Die($"ACL update failed: no such token '{tokenId}'");
                }

                subjects.Add(AclSubject.Token(tokenId));
            }

            foreach (var role in Schema.Formats.SplitList(r.Get("roles")!))
            {
                if (!access.Roles.ContainsKey(role))
                {
                    throw PveException.Die($"ACL update failed: role '{role}' does not exist");
                }

                foreach (var subject in subjects)
                {
                    if (remove)
                    {
                        access.RemoveAcl(path, subject, role);
                    }
                    else
                    {
                        access.SetAcl(path, subject, role, propagate);
                    }
                }
            }

            return null;
        }
    }

    /// <summary>The pve-priv-list format: a privilege the emulated release does not know fails verification.</summary>
    private static List<string> CheckedPrivileges(PveRequest r)
    {
        var valid = Privileges.Valid(r.Sim.State.Version);
        var privs = Schema.Formats.SplitList(r.Get("privs") ?? "").ToList();
        if (privs.FirstOrDefault(p => !valid.Contains(p)) is { } invalid)
        {
            throw PveException.ParamError("privs", $"invalid format - invalid privilege '{invalid}'");
        }

        return privs;
    }

    private static SimUser FindUser(PveRequest r)
    {
        var userId = r.Get("userid")!;
        return r.Sim.State.Access.Users.GetValueOrDefault(userId) ?? throw PveException.Die($"no such user ('{userId}')");
    }

    private static SimToken FindToken(PveRequest r)
    {
        var user = FindUser(r);
        var name = r.Get("tokenid")!;
        return user.Tokens.GetValueOrDefault(name) ?? throw PveException.Die($"no such token '{name}' for user '{user.UserId}'");
    }

    private static JsonObject UserInfo(SimUser user)
    {
        var o = new JsonObject { ["enable"] = user.Enabled ? 1 : 0, ["expire"] = user.Expire };
        if (user.Comment is not null)
        {
            o["comment"] = user.Comment;
        }

        return o;
    }

    private static JsonObject TokenInfo(SimToken token)
    {
        var o = new JsonObject { ["privsep"] = token.Privsep ? 1 : 0, ["expire"] = token.Expire };
        if (token.Comment is not null)
        {
            o["comment"] = token.Comment;
        }

        return o;
    }
}
