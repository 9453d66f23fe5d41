using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ctrlable.PveSim.Api;
using Ctrlable.PveSim.Schema;

namespace Ctrlable.PveSim.Auth;

/// <summary>
/// Evaluates an endpoint's <c>permissions</c> block from the schema (RPCEnvironment::check_api2_permissions and
/// exec_api2_perm_check): <c>user: all</c>, <c>perm</c> with <c>any</c> / <c>require_param</c>, <c>and</c>, <c>or</c>,
/// <c>userid-param</c>, <c>userid-group</c>, <c>perm-modify</c>, with <c>{param}</c> placeholders from the request.
/// </summary>
public static partial class PermissionChecker
{
    public static void CheckApi2(AccessControl access, JsonObject? permissions, string authId, IReadOnlyDictionary<string, string> param)
    {
        if (authId == "root@pam")
        {
            return;
        }

        if (permissions is null)
        {
            throw PveException.PermissionDenied("user != root@pam");
        }

        if (SchemaJson.String(permissions, "user") is "all" or "world")
        {
            return;
        }

        if (permissions["check"] is JsonArray check)
        {
            Exec(access, check, authId, param, noError: false);
            return;
        }

        throw PveException.PermissionDenied();
    }

    public static bool Exec(AccessControl access, JsonArray check, string authId, IReadOnlyDictionary<string, string> param, bool noError)
    {
        var test = check[0]!.GetValue<string>();
        switch (test)
        {
            case "and":
                foreach (var sub in check.Skip(1))
                {
                    Exec(access, sub!.AsArray(), authId, param, noError: false);
                }

                return true;

            case "or":
                foreach (var sub in check.Skip(1))
                {
                    if (Exec(access, sub!.AsArray(), authId, param, noError: true))
                    {
                        return true;
                    }
                }

                return noError ? false : throw PveException.PermissionDenied();

            case "perm":
                {
                    var template = check[1]!.GetValue<string>();
                    var privs = check[2]!.AsArray().Select(p => p!.GetValue<string>()).ToList();
                    var options = Options(check, 3);
                    var any = options.TryGetValue("any", out var anyValue) && SchemaJson.IsTrue(anyValue);
                    if (options.TryGetValue("require_param", out var required) && !param.ContainsKey(required.GetValue<string>()))
                    {
                        return noError ? false : throw PveException.PermissionDenied();
                    }

                    var path = AccessControl.NormalizePath(TemplateReplace(template, param)) ?? template;
                    return access.Check(authId, path, privs, any, noError);
                }

            case "userid-param":
                {
                    var userId = param.GetValueOrDefault("userid") ?? "";
                    var sub = check[1]!.GetValue<string>();
                    if (sub == "self")
                    {
                        if (!access.Users.ContainsKey(userId))
                        {
                            return noError ? false : throw PveException.Die($"no such user ('{userId}')");
                        }

                        return authId == userId || (noError ? false : throw PveException.PermissionDenied());
                    }

                    var realm = userId.Contains('@') ? userId[(userId.IndexOf('@') + 1)..] : "";
                    return access.Check(authId, $"/access/realm/{realm}", ["Realm.AllocateUser"], noError: noError);
                }

            case "userid-group":
                {
                    var privs = check[1]!.AsArray().Select(p => p!.GetValue<string>()).ToList();
                    if (access.Check(authId, "/access/groups", privs, any: true, noError: true))
                    {
                        return true;
                    }

                    var userId = param.GetValueOrDefault("userid");
                    var allowed = access.Groups
                        .Where(g => access.Check(authId, $"/access/groups/{g.Key}", privs, any: true, noError: true))
                        .Any(g => userId is not null && g.Value.Contains(userId));
                    return allowed || (noError ? false : throw PveException.PermissionDenied());
                }

            case "perm-modify":
                {
                    var path = AccessControl.NormalizePath(TemplateReplace(check[1]!.GetValue<string>(), param));
                    if (path is null)
                    {
                        return false;
                    }

                    List<string> privs = ["Permissions.Modify"];
                    if (path.StartsWith("/storage/", StringComparison.Ordinal))
                    {
                        privs.Add("Datastore.Allocate");
                    }
                    else if (path.StartsWith("/vms/", StringComparison.Ordinal))
                    {
                        privs.Add("VM.Allocate");
                    }
                    else if (path.StartsWith("/pool/", StringComparison.Ordinal))
                    {
                        privs.Add("Pool.Allocate");
                    }

                    return access.Check(authId, path, privs, any: true, noError: noError);
                }

            default:
                throw new InvalidOperationException($"unknown permission test '{test}'");
        }
    }

    /// <summary>PVE::Tools::template_replace: a missing (or Perl-false) value becomes '-'.</summary>
    public static string TemplateReplace(string template, IReadOnlyDictionary<string, string> param) =>
        Placeholder().Replace(template, m =>
            param.TryGetValue(m.Groups[1].Value, out var v) && v is not ("" or "0") ? v : "-");

    private static Dictionary<string, JsonNode> Options(JsonArray check, int start)
    {
        var options = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        for (var i = start; i + 1 < check.Count; i += 2)
        {
            if (check[i] is JsonValue key && key.GetValueKind() == JsonValueKind.String && check[i + 1] is { } value)
            {
                options[key.GetValue<string>()] = value;
            }
        }

        return options;
    }

    [GeneratedRegex(@"\{([^}]+)\}")]
    private static partial Regex Placeholder();
}
