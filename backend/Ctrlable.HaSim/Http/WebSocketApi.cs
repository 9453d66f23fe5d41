using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Flows;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Http;

/// <summary>A WebSocket command's failure: <c>{"success":false,"error":{"code","message"}}</c>.</summary>
internal sealed class WsError(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>
/// <c>/api/websocket</c> (components/websocket_api): <c>auth_required</c> → <c>auth</c> → <c>auth_ok</c> | <c>auth_invalid</c> (closed);
/// then commands with increasing ids, each schema strict (unknown keys refused), admin/owner checks as HA does them.
/// The connection closes when its refresh token is deleted, as HA's revoke callback does.
/// </summary>
internal sealed class WebSocketApi(HaRuntime ha, ConfigFlows flows, SupervisorApi supervisor)
{
    private static readonly (string, bool, JsonValueKind)[] NoFields = [];

    public async Task HandleAsync(HttpContext http, CancellationToken stopping)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await HaHttp.Text(http, 400, "Expected websocket upgrade");
            return;
        }

        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stopping, http.RequestAborted);
        var ct = cts.Token;
        try
        {
            await SendAsync(socket, new JsonObject { ["type"] = "auth_required", ["ha_version"] = ha.Versions.Core }, ct);
            var auth = await ReceiveAsync(socket, ct);
            HaPrincipal? principal = null;
            if (auth?["type"]?.ToString() == "auth" && auth["access_token"]?.GetValueKind() == JsonValueKind.String)
            {
                lock (ha.Sync)
                {
                    principal = Tokens.Validate(ha, auth["access_token"]!.GetValue<string>());
                }
            }

            if (principal is null)
            {
                var message = auth?["type"]?.ToString() == "auth" ? "Invalid access token or password" : "Auth message incorrectly formatted: expected auth";
                await SendAsync(socket, new JsonObject { ["type"] = "auth_invalid", ["message"] = message }, ct);
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, ct);
                return;
            }

            await SendAsync(socket, new JsonObject { ["type"] = "auth_ok", ["ha_version"] = ha.Versions.Core }, ct);
            var lastId = 0L;
            while (await ReceiveAsync(socket, ct) is { } message)
            {
                var id = message["id"]?.GetValueKind() == JsonValueKind.Number ? message["id"]!.GetValue<long>() : (long?)null;
                var type = message["type"]?.GetValueKind() == JsonValueKind.String ? message["type"]!.GetValue<string>() : null;
                if (id is null || type is null)
                {
                    await SendAsync(socket, ErrorMessage(id ?? 0, "invalid_format", "Message incorrectly formatted."), ct);
                    continue;
                }

                if (id <= lastId)
                {
                    await SendAsync(socket, ErrorMessage(id.Value, "id_reuse", "Identifier values have to increase."), ct);
                    continue;
                }

                lastId = id.Value;
                if (type == "ping")
                {
                    await SendAsync(socket, new JsonObject { ["id"] = id, ["type"] = "pong" }, ct);
                    continue;
                }

                JsonObject reply;
                try
                {
                    var result = await ExecuteAsync(principal, type, message, ct);
                    reply = new JsonObject { ["id"] = id, ["type"] = "result", ["success"] = true, ["result"] = result };
                }
                catch (WsError e)
                {
                    reply = ErrorMessage(id.Value, e.Code, e.Message);
                }

                await SendAsync(socket, reply, ct);
                lock (ha.Sync)
                {
                    var refresh = ha.Config.RefreshTokens.FirstOrDefault(t => t.Id == principal.RefreshToken.Id);
                    var user = ha.Config.Users.FirstOrDefault(u => u.Id == principal.User.Id);
                    if (refresh is null || user is not { IsActive: true })
                    {
                        break;
                    }

                    principal = new HaPrincipal(user, refresh);
                }
            }

            if (socket.State == WebSocketState.Open)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException)
        {
            // Core stopping or the client leaving: the connection just ends.
        }
    }

    private async Task<JsonNode?> ExecuteAsync(HaPrincipal principal, string type, JsonObject msg, CancellationToken ct)
    {
        switch (type)
        {
            case "supervisor/api":
                Fields(msg, ("endpoint", true, JsonValueKind.String), ("method", true, JsonValueKind.String), ("data", false, JsonValueKind.Object),
                    ("timeout", false, JsonValueKind.Number), ("source", false, JsonValueKind.String), ("id", true, JsonValueKind.Number), ("type", true, JsonValueKind.String));
                return await supervisor.CallAsync(principal, msg["endpoint"]!.GetValue<string>(), msg["method"]!.GetValue<string>(), msg["data"] as JsonObject, ct);
            case "config_entries/flow/progress":
                Fields(msg);
                return flows.Progress();
        }

        lock (ha.Sync)
        {
            return Execute(principal, type, msg);
        }
    }

    private JsonNode? Execute(HaPrincipal principal, string type, JsonObject msg)
    {
        var user = principal.User;
        switch (type)
        {
            case "get_config":
                Fields(msg);
                return new JsonObject
                {
                    ["version"] = ha.Versions.Core,
                    ["location_name"] = "Home",
                    ["time_zone"] = "UTC",
                    ["unit_system"] = new JsonObject { ["length"] = "km", ["temperature"] = "°C" },
                    ["components"] = new JsonArray([.. ha.Config.ConfigEntries.Select(e => e.Domain).Append("hassio").Append("backup").Distinct().Select(d => (JsonNode)d)]),
                    ["state"] = "RUNNING",
                };
            case "auth/current_user":
                Fields(msg);
                return new JsonObject
                {
                    ["id"] = user.Id,
                    ["name"] = user.Name,
                    ["is_owner"] = user.IsOwner,
                    ["is_admin"] = user.IsAdmin,
                    ["credentials"] = new JsonArray([.. ha.Config.Credentials.Where(c => c.UserId == user.Id)
                        .Select(_ => (JsonNode)new JsonObject { ["auth_provider_type"] = "homeassistant", ["auth_provider_id"] = null })]),
                    ["mfa_modules"] = new JsonArray(),
                };
            case "auth/long_lived_access_token":
                {
                    Fields(msg, ("client_name", true, JsonValueKind.String), ("lifespan", true, JsonValueKind.Number), ("client_icon", false, JsonValueKind.String));
                    var name = msg["client_name"]!.GetValue<string>();
                    if (ha.Config.RefreshTokens.Any(t => t.UserId == user.Id && t.TokenType == HaRefreshToken.LongLived && t.ClientName == name))
                    {
                        throw new WsError("unknown_error", $"{name} already exists");
                    }

                    var refresh = Tokens.CreateRefreshToken(ha, user, null, name, msg["client_icon"]?.GetValue<string>(), HaRefreshToken.LongLived,
                        TimeSpan.FromDays(msg["lifespan"]!.GetValue<double>()), principal.RefreshToken.CredentialId);
                    return Tokens.CreateAccessToken(ha, refresh, null);
                }

            case "auth/refresh_tokens":
                Fields(msg);
                return new JsonArray([.. ha.Config.RefreshTokens.Where(t => t.UserId == user.Id).Select(t => (JsonNode)new JsonObject
                {
                    ["id"] = t.Id,
                    ["auth_provider_type"] = t.CredentialId is null ? null : "homeassistant",
                    ["client_icon"] = t.ClientIcon,
                    ["client_id"] = t.ClientId,
                    ["client_name"] = t.ClientName,
                    ["created_at"] = t.CreatedAt.ToString("O"),
                    ["expire_at"] = null,
                    ["is_current"] = t.Id == principal.RefreshToken.Id,
                    ["last_used_at"] = t.LastUsedAt?.ToString("O"),
                    ["last_used_ip"] = t.LastUsedIp,
                    ["token_type"] = t.TokenType,
                })]);
            case "auth/delete_refresh_token":
                Fields(msg, ("refresh_token_id", true, JsonValueKind.String));
                if (ha.Config.RefreshTokens.RemoveAll(t => t.Id == msg["refresh_token_id"]!.GetValue<string>() && t.UserId == user.Id) == 0)
                {
                    throw new WsError("invalid_token_id", "Received invalid token");
                }

                return null;
            case "auth/delete_all_refresh_tokens":
                {
                    Fields(msg, ("token_type", false, JsonValueKind.String), ("delete_current_token", false, JsonValueKind.True));
                    var tokenType = msg["token_type"]?.GetValue<string>();
                    var deleteCurrent = msg["delete_current_token"]?.GetValue<bool>() ?? true;
                    ha.Config.RefreshTokens.RemoveAll(t => t.UserId == user.Id && (tokenType is null || t.TokenType == tokenType)
                        && (deleteCurrent || t.Id != principal.RefreshToken.Id));
                    return null;
                }

            case "config/auth/list":
                Fields(msg);
                RequireAdmin(user);
                return new JsonArray([.. ha.Config.Users.Select(u => (JsonNode)UserJson(u))]);
            case "config/auth/create":
                {
                    Fields(msg, ("name", true, JsonValueKind.String), ("group_ids", false, JsonValueKind.Array), ("local_only", false, JsonValueKind.True));
                    RequireAdmin(user);
                    var groups = msg["group_ids"]?.AsArray().Select(g => g!.GetValue<string>()).ToList() ?? ["system-users"];
                    var created = new HaUser(HaConfig.NewId(), msg["name"]!.GetValue<string>(), false, true, false, msg["local_only"]?.GetValue<bool>() ?? false, groups);
                    ha.Config.Users.Add(created);
                    return new JsonObject { ["user"] = UserJson(created) };
                }

            case "config/auth/delete":
                {
                    Fields(msg, ("user_id", true, JsonValueKind.String));
                    RequireAdmin(user);
                    var id = msg["user_id"]!.GetValue<string>();
                    if (id == user.Id)
                    {
                        throw new WsError("no_delete_self", "Unable to remove self");
                    }

                    var target = ha.Config.Users.FirstOrDefault(u => u.Id == id) ?? throw new WsError("not_found", "User not found");
                    if (target.SystemGenerated)
                    {
                        throw new WsError("cannot_delete_system", "Unable to remove system generated users.");
                    }

                    RemoveUser(target);
                    return null;
                }

            case "config/auth/update":
                {
                    Fields(msg, ("user_id", true, JsonValueKind.String), ("name", false, JsonValueKind.String), ("is_active", false, JsonValueKind.True),
                        ("group_ids", false, JsonValueKind.Array), ("local_only", false, JsonValueKind.True));
                    RequireAdmin(user);
                    var index = ha.Config.Users.FindIndex(u => u.Id == msg["user_id"]!.GetValue<string>());
                    if (index < 0)
                    {
                        throw new WsError("not_found", "User not found");
                    }

                    var target = ha.Config.Users[index];
                    if (target.IsOwner && msg["is_active"]?.GetValue<bool>() == false)
                    {
                        throw new WsError("invalid_format", "Unable to deactivate owner");
                    }

                    target = target with
                    {
                        Name = msg["name"]?.GetValue<string>() ?? target.Name,
                        IsActive = msg["is_active"]?.GetValue<bool>() ?? target.IsActive,
                        LocalOnly = msg["local_only"]?.GetValue<bool>() ?? target.LocalOnly,
                        GroupIds = msg["group_ids"]?.AsArray().Select(g => g!.GetValue<string>()).ToList() ?? target.GroupIds,
                    };
                    ha.Config.Users[index] = target;
                    return new JsonObject { ["user"] = UserJson(target) };
                }

            case "config/auth_provider/homeassistant/create":
                {
                    Fields(msg, ("user_id", true, JsonValueKind.String), ("username", true, JsonValueKind.String), ("password", true, JsonValueKind.String));
                    RequireAdmin(user);
                    var target = ha.Config.Users.FirstOrDefault(u => u.Id == msg["user_id"]!.GetValue<string>()) ?? throw new WsError("not_found", "User not found");
                    if (target.SystemGenerated)
                    {
                        throw new WsError("system_generated", "Cannot add credentials to a system generated user.");
                    }

                    var username = msg["username"]!.GetValue<string>();
                    if (username != username.Trim().ToLowerInvariant())
                    {
                        throw new WsError("home_assistant_error", "Username must be normalized");
                    }

                    if (ha.Config.Passwords.ContainsKey(username))
                    {
                        throw new WsError("home_assistant_error", "Username already exists");
                    }

                    ha.Config.Passwords[username] = HaConfig.HashPassword(msg["password"]!.GetValue<string>(), ha.Options.BcryptWorkFactor);
                    ha.Config.Credentials.Add(new HaCredential(HaConfig.NewId(), target.Id, username));
                    return null;
                }

            case "config/auth_provider/homeassistant/change_password":
                {
                    Fields(msg, ("current_password", true, JsonValueKind.String), ("new_password", true, JsonValueKind.String));
                    var credential = ha.Config.Credentials.FirstOrDefault(c => c.UserId == user.Id) ?? throw new WsError("credentials_not_found", "Credentials not found");
                    if (!ha.Config.PasswordMatches(credential.Username, msg["current_password"]!.GetValue<string>()))
                    {
                        throw new WsError("invalid_current_password", "Invalid current password");
                    }

                    ha.Config.Passwords[credential.Username] = HaConfig.HashPassword(msg["new_password"]!.GetValue<string>(), ha.Options.BcryptWorkFactor);
                    return null;
                }

            case "config/auth_provider/homeassistant/admin_change_password":
                {
                    Fields(msg, ("user_id", true, JsonValueKind.String), ("password", true, JsonValueKind.String));
                    if (!user.IsOwner)
                    {
                        throw new WsError("unauthorized", "Unauthorized");
                    }

                    var target = ha.Config.Users.FirstOrDefault(u => u.Id == msg["user_id"]!.GetValue<string>()) ?? throw new WsError("user_not_found", "User not found");
                    var credential = ha.Config.Credentials.FirstOrDefault(c => c.UserId == target.Id) ?? throw new WsError("credentials_not_found", "Credentials not found");
                    ha.Config.Passwords[credential.Username] = HaConfig.HashPassword(msg["password"]!.GetValue<string>(), ha.Options.BcryptWorkFactor);
                    return null;
                }

            case "config/auth_provider/homeassistant/delete":
                {
                    Fields(msg, ("username", true, JsonValueKind.String));
                    RequireAdmin(user);
                    var username = msg["username"]!.GetValue<string>();
                    if (!ha.Config.Passwords.Remove(username))
                    {
                        throw new WsError("auth_not_found", "Given username was not found.");
                    }

                    var removed = ha.Config.Credentials.Where(c => c.Username == username).Select(c => c.Id).ToHashSet();
                    ha.Config.Credentials.RemoveAll(c => removed.Contains(c.Id));
                    ha.Config.RefreshTokens.RemoveAll(t => t.CredentialId is { } id && removed.Contains(id));
                    return null;
                }

            case "config_entries/get":
                {
                    Fields(msg, ("type_filter", false, JsonValueKind.Array), ("domain", false, JsonValueKind.String));
                    RequireAdmin(user);
                    var domain = msg["domain"]?.GetValue<string>();
                    return new JsonArray([.. ha.Config.ConfigEntries.Where(e => domain is null || e.Domain == domain).Select(e => (JsonNode)ConfigFlows.EntryJson(e))]);
                }

            case "config/core/update":
                RequireAdmin(user);
                return null;
            default:
                throw new WsError("unknown_command", "Unknown command.");
        }
    }

    private void RemoveUser(HaUser target)
    {
        var credentials = ha.Config.Credentials.Where(c => c.UserId == target.Id).ToList();
        foreach (var c in credentials)
        {
            ha.Config.Passwords.Remove(c.Username);
        }

        ha.Config.Credentials.RemoveAll(c => c.UserId == target.Id);
        ha.Config.RefreshTokens.RemoveAll(t => t.UserId == target.Id);
        ha.Config.Users.Remove(target);
    }

    private JsonObject UserJson(HaUser u) => new()
    {
        ["id"] = u.Id,
        ["username"] = ha.Config.Credentials.FirstOrDefault(c => c.UserId == u.Id)?.Username,
        ["name"] = u.Name,
        ["is_owner"] = u.IsOwner,
        ["is_active"] = u.IsActive,
        ["local_only"] = u.LocalOnly,
        ["system_generated"] = u.SystemGenerated,
        ["group_ids"] = new JsonArray([.. u.GroupIds.Select(g => (JsonNode)g)]),
        ["credentials"] = new JsonArray([.. ha.Config.Credentials.Where(c => c.UserId == u.Id).Select(_ => (JsonNode)new JsonObject { ["type"] = "homeassistant" })]),
    };

    private static void RequireAdmin(HaUser user)
    {
        if (!user.IsAdmin)
        {
            throw new WsError("unauthorized", "Unauthorized");
        }
    }

    /// <summary>The command's voluptuous schema (id and type always allowed); anything else is refused.</summary>
    private static void Fields(JsonObject msg, params (string Name, bool Required, JsonValueKind Kind)[] fields)
    {
        var schema = fields.Length == 0 ? NoFields.ToList() : [.. fields];
        if (schema.All(f => f.Item1 != "id"))
        {
            schema.Add(("id", true, JsonValueKind.Number));
            schema.Add(("type", true, JsonValueKind.String));
        }

        if (HaHttp.Check(msg, schema) is { } error)
        {
            throw new WsError("invalid_format", $"Message incorrectly formatted: {error}");
        }
    }

    private static JsonObject ErrorMessage(long id, string code, string message) => new()
    {
        ["id"] = id,
        ["type"] = "result",
        ["success"] = false,
        ["error"] = new JsonObject { ["code"] = code, ["message"] = message },
    };

    private static async Task SendAsync(WebSocket socket, JsonObject message, CancellationToken ct)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString(HaHttp.JsonOptions)), WebSocketMessageType.Text, true, ct);
    }

    private static async Task<JsonObject?> ReceiveAsync(WebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[8192];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                break;
            }
        }

        try
        {
            return JsonNode.Parse(message.ToArray()) as JsonObject ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }
}
