using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ctrlable.Provisioner.HomeAssistant;

/// <summary>
/// One authenticated connection to Home Assistant's WebSocket API (<c>/api/websocket</c>): commands run one at a time
/// with increasing ids, events in between are skipped. Used for what has no REST form: long-lived tokens, refresh
/// tokens, users and passwords. Commands carry only the keys their schema lists (Home Assistant refuses others).
/// </summary>
public sealed class HomeAssistantSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly TimeSpan _timeout;
    private int _id;

    private HomeAssistantSocket(ClientWebSocket socket, TimeSpan timeout)
    {
        _socket = socket;
        _timeout = timeout;
    }

    /// <summary>Connects and authenticates with an access token (or a long-lived token). A refused token is <c>auth_invalid</c>.</summary>
    public static async Task<HomeAssistantSocket> ConnectAsync(Uri site, string accessToken, TimeSpan timeout, CancellationToken ct)
    {
        // Straight to the guest on the LAN, as the HTTP client goes: never through a configured proxy.
        var socket = new ClientWebSocket { Options = { Proxy = null } };
        var connection = new HomeAssistantSocket(socket, timeout);
        try
        {
            var url = new UriBuilder(new Uri(site, "api/websocket")) { Scheme = site.Scheme == "https" ? "wss" : "ws" }.Uri;
            using (var limit = Limit(timeout, ct))
            {
                await socket.ConnectAsync(url, limit.Token);
            }

            var hello = await connection.ReceiveAsync(ct);
            if (Type(hello) != "auth_required")
            {
                throw new HomeAssistantException($"Home Assistant's WebSocket API at {site.Authority} did not ask for authentication (sent {Type(hello)}).");
            }

            await connection.SendAsync(new JsonObject { ["type"] = "auth", ["access_token"] = accessToken }, ct);
            var answer = await connection.ReceiveAsync(ct);
            if (Type(answer) != "auth_ok")
            {
                throw new HomeAssistantException($"Home Assistant's WebSocket API refused the token ({Type(answer)}).", code: "auth_invalid");
            }

            return connection;
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            await connection.DisposeAsync();
            throw new HomeAssistantException($"Home Assistant's WebSocket API at {site.Authority} is not reachable: {ex.Message}", inner: ex);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs one command; returns its result, or throws with Home Assistant's error code and message.</summary>
    public async Task<JsonElement> CommandAsync(string type, JsonObject? fields, CancellationToken ct)
    {
        var id = ++_id;
        var message = new JsonObject { ["id"] = id, ["type"] = type };
        foreach (var (key, value) in fields ?? [])
        {
            message[key] = value?.DeepClone();
        }

        try
        {
            await SendAsync(message, ct);
            while (true)
            {
                var answer = await ReceiveAsync(ct);
                if (Type(answer) != "result" || !answer.TryGetProperty("id", out var answerId) || answerId.GetInt32() != id)
                {
                    continue;
                }

                if (answer.TryGetProperty("success", out var success) && success.ValueKind == JsonValueKind.True)
                {
                    return answer.TryGetProperty("result", out var result) ? result.Clone() : default;
                }

                var error = answer.TryGetProperty("error", out var e) ? e : default;
                var code = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("code", out var c) ? c.GetString() : null;
                var text = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) ? m.GetString() : null;
                throw new HomeAssistantException($"Home Assistant refused {type}: {text ?? code ?? "unknown error"}", code: code);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            throw new HomeAssistantException($"Home Assistant's WebSocket connection ended during {type}: {ex.Message}", inner: ex);
        }
    }

    // --- Commands -------------------------------------------------------------------------------

    public async Task<HomeAssistantUser> CurrentUserAsync(CancellationToken ct)
    {
        var user = await CommandAsync("auth/current_user", null, ct);
        return new HomeAssistantUser(user.GetProperty("id").GetString()!, Str(user, "name") ?? "", null, Bool(user, "is_owner"), true, false,
            user.TryGetProperty("group_ids", out var groups) ? [.. groups.EnumerateArray().Select(g => g.GetString()!)] : []);
    }

    public async Task<IReadOnlyList<HomeAssistantUser>> ListUsersAsync(CancellationToken ct)
    {
        var users = await CommandAsync("config/auth/list", null, ct);
        return [.. users.EnumerateArray().Select(u => new HomeAssistantUser(
            u.GetProperty("id").GetString()!, Str(u, "name") ?? "", Str(u, "username"), Bool(u, "is_owner"), !u.TryGetProperty("is_active", out var a) || a.ValueKind == JsonValueKind.True,
            Bool(u, "system_generated"), u.TryGetProperty("group_ids", out var g) ? [.. g.EnumerateArray().Select(x => x.GetString()!)] : []))];
    }

    /// <summary>Creates an (admin) user without credentials; returns its id.</summary>
    public async Task<string> CreateUserAsync(string name, IReadOnlyList<string> groupIds, CancellationToken ct)
    {
        var result = await CommandAsync("config/auth/create", new JsonObject { ["name"] = name, ["group_ids"] = new JsonArray([.. groupIds.Select(g => (JsonNode)g)]) }, ct);
        return result.GetProperty("user").GetProperty("id").GetString()!;
    }

    /// <summary>Gives a user a username and password of the homeassistant provider.</summary>
    public Task CreateCredentialsAsync(string userId, string username, string password, CancellationToken ct) =>
        CommandAsync("config/auth_provider/homeassistant/create", new JsonObject { ["user_id"] = userId, ["username"] = username, ["password"] = password }, ct);

    /// <summary>Sets any user's password (the caller must be the owner).</summary>
    public Task AdminChangePasswordAsync(string userId, string password, CancellationToken ct) =>
        CommandAsync("config/auth_provider/homeassistant/admin_change_password", new JsonObject { ["user_id"] = userId, ["password"] = password }, ct);

    /// <summary>Changes the connected user's own password; a wrong current one is <c>invalid_current_password</c>.</summary>
    public Task ChangePasswordAsync(string currentPassword, string newPassword, CancellationToken ct) =>
        CommandAsync("config/auth_provider/homeassistant/change_password", new JsonObject { ["current_password"] = currentPassword, ["new_password"] = newPassword }, ct);

    /// <summary>A long-lived access token of the connected user (lifespan in days). The token is a secret: store it encrypted.</summary>
    public async Task<string> CreateLongLivedTokenAsync(string clientName, int lifespanDays, CancellationToken ct) =>
        (await CommandAsync("auth/long_lived_access_token", new JsonObject { ["client_name"] = clientName, ["lifespan"] = lifespanDays }, ct)).GetString()!;

    /// <summary>The connected user's refresh tokens (never the token values).</summary>
    public async Task<IReadOnlyList<RefreshTokenInfo>> ListRefreshTokensAsync(CancellationToken ct)
    {
        var tokens = await CommandAsync("auth/refresh_tokens", null, ct);
        return [.. tokens.EnumerateArray().Select(t => new RefreshTokenInfo(
            t.GetProperty("id").GetString()!, Str(t, "client_id"), Str(t, "client_name"), Str(t, "type") ?? "normal", Bool(t, "is_current")))];
    }

    /// <summary>Deletes one of the connected user's refresh tokens (and every access token issued from it).</summary>
    public Task DeleteRefreshTokenAsync(string refreshTokenId, CancellationToken ct) =>
        CommandAsync("auth/delete_refresh_token", new JsonObject { ["refresh_token_id"] = refreshTokenId }, ct);

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, limit.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
            {
                // The other side went first.
            }
        }

        _socket.Dispose();
    }

    // --- Plumbing -------------------------------------------------------------------------------

    private async Task SendAsync(JsonObject message, CancellationToken ct)
    {
        using var limit = Limit(_timeout, ct);
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, limit.Token);
    }

    private async Task<JsonElement> ReceiveAsync(CancellationToken ct)
    {
        using var limit = Limit(_timeout, ct);
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer.GetMemory(16 * 1024), limit.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "Home Assistant closed the connection");
            }

            buffer.Advance(result.Count);
            if (result.EndOfMessage)
            {
                using var doc = JsonDocument.Parse(buffer.WrittenMemory);
                return doc.RootElement.Clone();
            }
        }
    }

    private static CancellationTokenSource Limit(TimeSpan timeout, CancellationToken ct)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(ct);
        source.CancelAfter(timeout);
        return source;
    }

    private static string? Type(JsonElement message) => message.TryGetProperty("type", out var type) ? type.GetString() : null;

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
}
