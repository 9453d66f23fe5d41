using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ctrlable.Provisioner.HomeAssistant;

// Shapes of Home Assistant's answers the orchestrator reads (snake_case on the wire, see HomeAssistantClient.Json).
// Only the fields used are declared.

/// <summary>One onboarding step of <c>GET /api/onboarding</c>.</summary>
public sealed record OnboardingStep(string Step, bool Done);

public enum OnboardingPhase
{
    /// <summary>Nothing answers yet, or the landing page ("Preparing Home Assistant": 401 text/plain on /api), or Core is restarting (502).</summary>
    NotReady,

    /// <summary>Core answers with onboarding steps of which none is done: a fresh instance.</summary>
    Fresh,

    /// <summary>Some step is done but not all (someone onboarded by hand, or a failed attempt created a user).</summary>
    Partial,

    /// <summary>404 on /api/onboarding, or every step done: the instance is onboarded (e.g. restored from a backup).</summary>
    Onboarded,
}

public sealed record OnboardingStatus(OnboardingPhase Phase, IReadOnlyList<OnboardingStep> Steps, string Detail);

/// <summary><c>GET /api/onboarding/backup/info</c>.</summary>
public sealed record BackupInfo(IReadOnlyList<ManagerBackup> Backups, string State, BackupActionEvent? LastActionEvent);

public sealed record ManagerBackup(string BackupId, string? Name, bool? DatabaseIncluded, bool? HomeassistantIncluded, string? HomeassistantVersion);

/// <summary><c>{manager_state, stage, state: in_progress|completed|failed, reason}</c>.</summary>
public sealed record BackupActionEvent(string? ManagerState, string? Stage, string? State, string? Reason);

public sealed record RestoreRequest(
    string BackupId,
    string AgentId,
    string? Password,
    bool RestoreDatabase,
    IReadOnlyList<string> RestoreAddons,
    IReadOnlyList<string> RestoreFolders);

public sealed record AuthProvider(string Name, string? Id, string Type);

/// <summary>The answer of <c>POST /auth/token</c>. Holds secrets: never log it.</summary>
public sealed record HomeAssistantTokens(string AccessToken, string? RefreshToken, int ExpiresIn)
{
    /// <summary>The id of the refresh token behind an access token: Home Assistant's JWTs name it as issuer (<c>iss</c>).</summary>
    public string? RefreshTokenId => IssuerOf(AccessToken);

    public static string? IssuerOf(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
            using var doc = JsonDocument.Parse(Convert.FromBase64String(payload));
            return doc.RootElement.TryGetProperty("iss", out var iss) && iss.ValueKind == JsonValueKind.String ? iss.GetString() : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("AccessToken = ***, RefreshToken = ***, ExpiresIn = ").Append(ExpiresIn);
        return true;
    }
}

/// <summary>A step of a config flow (<c>/api/config/config_entries/flow</c>) or of the login flow.</summary>
public sealed record FlowResult(
    string Type,
    string? FlowId,
    string? Handler,
    string? StepId,
    JsonElement? DataSchema,
    IReadOnlyDictionary<string, string>? Errors,
    IReadOnlyList<string>? MenuOptions,
    string? Reason,
    JsonElement? Result,
    string? Title)
{
    /// <summary>The fields of a form step as Home Assistant serialises them (voluptuous_serialize): name, type, required, default.</summary>
    public IReadOnlyList<FlowField> Fields =>
        DataSchema is { ValueKind: JsonValueKind.Array } schema
            ? [.. schema.EnumerateArray().Select(FlowField.Of)]
            : [];

    /// <summary>Menu options arrive as a list or, in newer versions, as an object of option → label.</summary>
    public static IReadOnlyList<string> MenuOf(JsonElement root) => root.TryGetProperty("menu_options", out var menu)
        ? menu.ValueKind switch
        {
            JsonValueKind.Array => [.. menu.EnumerateArray().Select(o => o.GetString() ?? "")],
            JsonValueKind.Object => [.. menu.EnumerateObject().Select(o => o.Name)],
            _ => [],
        }
        : [];
}

public sealed record FlowField(string Name, string? Type, bool Required, JsonElement? Default)
{
    public static FlowField Of(JsonElement field) => new(
        field.GetProperty("name").GetString()!,
        field.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null,
        field.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.True,
        field.TryGetProperty("default", out var value) ? value.Clone() : null);
}

/// <summary>One entry of <c>GET /api/config/config_entries/entry</c>.</summary>
public sealed record ConfigEntry(string EntryId, string Domain, string Title, string? State, string? UniqueId);

/// <summary>A Home Assistant user as <c>config/auth/list</c> shows it.</summary>
public sealed record HomeAssistantUser(string Id, string Name, string? Username, bool IsOwner, bool IsActive, bool SystemGenerated, IReadOnlyList<string> GroupIds);

/// <summary>A refresh token as <c>auth/refresh_tokens</c> shows it (the token itself is never sent).</summary>
public sealed record RefreshTokenInfo(string Id, string? ClientId, string? ClientName, string Type, bool IsCurrent);

/// <summary>Home Assistant answered with an error, or not as expected. Messages never carry a secret.</summary>
public sealed class HomeAssistantException(string message, HttpStatusCode? status = null, string? code = null, Exception? inner = null) : Exception(message, inner)
{
    public HttpStatusCode? Status { get; } = status;

    /// <summary>Home Assistant's error code when it sent one (e.g. <c>incorrect_password</c>, <c>invalid_auth</c>, <c>onboarding_required</c>).</summary>
    public string? Code { get; } = code;

    /// <summary>Home Assistant is restarting or not up yet (connection refused, 502/503/504): asking again later may work.</summary>
    public bool IsTransient => Status is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout
        || InnerException is HttpRequestException or IOException or System.Net.Sockets.SocketException or System.Net.WebSockets.WebSocketException or TimeoutException or Polly.Timeout.TimeoutRejectedException;
}

internal static class HomeAssistantJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
