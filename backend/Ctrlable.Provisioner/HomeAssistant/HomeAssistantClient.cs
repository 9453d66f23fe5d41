using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.HomeAssistant;

/// <summary>
/// The Home Assistant HTTP calls the orchestrator makes (onboarding, backup restore during onboarding, login flow,
/// tokens, config flows), against the site URL given with each call. A singleton over the named IHttpClientFactory
/// clients <see cref="HttpClientName"/> and <see cref="UploadClientName"/> (<see cref="HomeAssistantRegistration.AddHomeAssistant"/>), which never
/// follow redirects: a redirected POST would arrive as a GET (HAOS moved its port from 8123 to 80 in Core 2026.8).
/// Tokens and passwords travel in requests only; no message of this class carries one.
/// </summary>
public sealed class HomeAssistantClient(IHttpClientFactory httpClients, IOptions<HomeAssistantOptions> options)
{
    public const string HttpClientName = "homeassistant";
    public const string UploadClientName = "homeassistant-upload";

    /// <summary>The Supervisor's local backup agent on HAOS (<c>backup.local</c> is Core-only installs).</summary>
    public const string SupervisorAgent = "hassio.local";

    /// <summary>The OAuth client id Home Assistant accepts from a private address: the site's own URL.</summary>
    public static string ClientId(Uri site) => site.GetLeftPart(UriPartial.Authority) + "/";

    public static Uri SiteUrl(string host, int port) => new($"http://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}/");

    // --- Locating -------------------------------------------------------------------------------

    /// <summary>
    /// The port among <see cref="HomeAssistantOptions.ProbePorts"/> that answers without redirecting (the landing page and
    /// Core both redirect the other port); null when none answers yet.
    /// </summary>
    public async Task<int?> FindLivePortAsync(string host, CancellationToken ct)
    {
        foreach (var port in options.Value.ProbePorts)
        {
            try
            {
                using var response = await Http.GetAsync(new Uri(SiteUrl(host, port), "api/onboarding"), HttpCompletionOption.ResponseHeadersRead, ct);
                if ((int)response.StatusCode is < 300 or >= 400)
                {
                    return port;
                }
            }
            catch (Exception ex) when (IsUnreachable(ex, ct))
            {
                // Nothing listens there (yet).
            }
        }

        return null;
    }

    // --- Onboarding -----------------------------------------------------------------------------

    /// <summary>
    /// Where Home Assistant is: not ready (nothing answers, the landing page's 401 text/plain, 502 while Core restarts),
    /// fresh, partly onboarded, or onboarded (404, or every step done: a running instance keeps the view until it restarts).
    /// </summary>
    public async Task<OnboardingStatus> GetOnboardingAsync(Uri site, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await Http.GetAsync(new Uri(site, "api/onboarding"), ct);
        }
        catch (Exception ex) when (IsUnreachable(ex, ct))
        {
            return new OnboardingStatus(OnboardingPhase.NotReady, [], "not answering");
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return new OnboardingStatus(OnboardingPhase.Onboarded, [], "onboarded");
            }

            if (!response.IsSuccessStatusCode || response.Content.Headers.ContentType?.MediaType != "application/json")
            {
                var detail = response.StatusCode == HttpStatusCode.Unauthorized ? "preparing (landing page)" : $"HTTP {(int)response.StatusCode}";
                return new OnboardingStatus(OnboardingPhase.NotReady, [], detail);
            }

            var steps = await response.Content.ReadFromJsonAsync<List<OnboardingStep>>(HomeAssistantJson.Options, ct) ?? [];
            var phase = steps.All(s => s.Done) ? OnboardingPhase.Onboarded : steps.Any(s => s.Done) ? OnboardingPhase.Partial : OnboardingPhase.Fresh;
            return new OnboardingStatus(phase, steps, string.Join(", ", steps.Select(s => $"{s.Step}{(s.Done ? " done" : "")}")));
        }
    }

    /// <summary>Whether Core has loaded <paramref name="domain"/> (the frontend asks for <c>backup</c> before it restores).</summary>
    public async Task<bool> WaitForIntegrationAsync(Uri site, string domain, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Post, new Uri(site, "api/onboarding/integration/wait"), null, JsonContent.Create(new { domain }), ct);
        var body = await ReadJsonAsync(response, "integration/wait", ct);
        return body.TryGetProperty("integration_loaded", out var loaded) && loaded.ValueKind == JsonValueKind.True;
    }

    public async Task<BackupInfo> GetBackupInfoAsync(Uri site, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Get, new Uri(site, "api/onboarding/backup/info"), null, null, ct);
        var body = await ReadJsonAsync(response, "backup/info", ct);
        return body.Deserialize<BackupInfo>(HomeAssistantJson.Options) ?? throw Unexpected("backup/info", response);
    }

    /// <summary>Uploads a backup to the Supervisor's local storage (multipart, the file as the first part); returns its backup id.</summary>
    public async Task<string> UploadBackupAsync(Uri site, Stream file, string fileName, CancellationToken ct)
    {
        using var form = new MultipartFormDataContent();
        var part = new StreamContent(file);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        form.Add(part, "file", fileName);
        var client = httpClients.CreateClient(UploadClientName);
        using var response = await SendAsync(client, HttpMethod.Post, new Uri(site, $"api/onboarding/backup/upload?agent_id={Uri.EscapeDataString(SupervisorAgent)}"), null, form, ct);
        var body = await ReadJsonAsync(response, "backup/upload", ct);
        return body.TryGetProperty("backup_id", out var id) && id.GetString() is { Length: > 0 } backupId
            ? backupId
            : throw Unexpected("backup/upload", response);
    }

    /// <summary>
    /// Asks for the restore. True when Home Assistant confirmed it started; false when the connection dropped first (Core
    /// may stop before it answers, which the frontend also takes as "started"). A wrong password is <c>incorrect_password</c>.
    /// </summary>
    public async Task<bool> RestoreBackupAsync(Uri site, RestoreRequest request, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(site, "api/onboarding/backup/restore"))
        {
            Content = JsonContent.Create(request, options: HomeAssistantJson.Options),
        };
        HttpResponseMessage response;
        try
        {
            response = await Http.SendAsync(message, ct);
        }
        catch (Exception ex) when (IsUnreachable(ex, ct))
        {
            return false;
        }

        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                return true;
            }

            if (response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable)
            {
                return false;
            }

            throw await ErrorAsync(response, "backup/restore", ct);
        }
    }

    /// <summary>The login providers once a user exists; null while onboarding still needs its user (400 <c>onboarding_required</c>).</summary>
    public async Task<IReadOnlyList<AuthProvider>?> GetAuthProvidersAsync(Uri site, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Get, new Uri(site, "auth/providers"), null, null, ct, throwOnError: false);
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            return null;
        }

        var body = await ReadJsonAsync(response, "auth/providers", ct);
        // Newer versions wrap the list: {"providers": [...], "preselect_remember_me": ...}.
        var list = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("providers", out var wrapped) ? wrapped : body;
        return list.Deserialize<List<AuthProvider>>(HomeAssistantJson.Options) ?? [];
    }

    // --- Signing in -----------------------------------------------------------------------------

    /// <summary>Runs the login flow of the homeassistant provider; returns the authorization code. Wrong credentials: <c>invalid_auth</c>.</summary>
    public async Task<string> LoginAsync(Uri site, string username, string password, CancellationToken ct)
    {
        var clientId = ClientId(site);
        using var start = await SendAsync(Http, HttpMethod.Post, new Uri(site, "auth/login_flow"), null,
            JsonContent.Create(new { client_id = clientId, handler = new string?[] { "homeassistant", null }, redirect_uri = clientId, type = "authorize" }), ct);
        var flow = ParseFlow(await ReadJsonAsync(start, "auth/login_flow", ct));
        if (flow.Type != "form" || flow.FlowId is null)
        {
            throw new HomeAssistantException($"Home Assistant's login flow did not offer a form (type {flow.Type}{(flow.Reason is null ? "" : $", {flow.Reason}")}).");
        }

        using var submit = await SendAsync(Http, HttpMethod.Post, new Uri(site, $"auth/login_flow/{Uri.EscapeDataString(flow.FlowId)}"), null,
            JsonContent.Create(new { client_id = clientId, username, password }), ct);
        var result = ParseFlow(await ReadJsonAsync(submit, "auth/login_flow", ct));
        return result switch
        {
            { Type: "create_entry", Result: { ValueKind: JsonValueKind.String } code } => code.GetString()!,
            { Type: "form", Errors: { } errors } when errors.TryGetValue("base", out var error) =>
                throw new HomeAssistantException($"Home Assistant refused the sign-in of user '{username}' ({error}).", code: error),
            { Type: "form" } => throw new HomeAssistantException($"Home Assistant asks user '{username}' for a further login step ({result.StepId}), e.g. multi-factor authentication; the orchestrator's users must not have one.", code: "mfa"),
            _ => throw new HomeAssistantException($"Home Assistant's login flow ended with {result.Type} {result.Reason}."),
        };
    }

    /// <summary>Exchanges an authorization code at <c>/auth/token</c> (form-encoded: JSON is refused). Codes are single-use.</summary>
    public async Task<HomeAssistantTokens> ExchangeCodeAsync(Uri site, string code, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Post, new Uri(site, "auth/token"), null, new FormUrlEncodedContent(
        [
            new("grant_type", "authorization_code"),
            new("code", code),
            new("client_id", ClientId(site)),
        ]), ct);
        var body = await ReadJsonAsync(response, "auth/token", ct);
        return body.Deserialize<HomeAssistantTokens>(HomeAssistantJson.Options) is { AccessToken.Length: > 0 } tokens
            ? tokens
            : throw Unexpected("auth/token", response);
    }

    /// <summary>Login flow then token exchange: an access token backed by a fresh refresh token.</summary>
    public async Task<HomeAssistantTokens> SignInAsync(Uri site, string username, string password, CancellationToken ct) =>
        await ExchangeCodeAsync(site, await LoginAsync(site, username, password, ct), ct);

    // --- Config flows ---------------------------------------------------------------------------

    public async Task<FlowResult> StartConfigFlowAsync(Uri site, string token, string handler, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Post, new Uri(site, "api/config/config_entries/flow"), token,
            JsonContent.Create(new { handler, show_advanced_options = false }), ct);
        return ParseFlow(await ReadJsonAsync(response, $"config flow {handler}", ct));
    }

    public async Task<FlowResult> ContinueConfigFlowAsync(Uri site, string token, string flowId, IReadOnlyDictionary<string, object?> data, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Post, new Uri(site, $"api/config/config_entries/flow/{Uri.EscapeDataString(flowId)}"), token,
            JsonContent.Create(data), ct);
        return ParseFlow(await ReadJsonAsync(response, "config flow step", ct));
    }

    /// <summary>Abandons a config flow left half-way (a failed step), so that the next attempt starts afresh.</summary>
    public async Task AbortConfigFlowAsync(Uri site, string token, string flowId, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Delete, new Uri(site, $"api/config/config_entries/flow/{Uri.EscapeDataString(flowId)}"), token, null, ct, throwOnError: false);
    }

    public async Task<IReadOnlyList<ConfigEntry>> GetConfigEntriesAsync(Uri site, string token, string domain, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Get, new Uri(site, $"api/config/config_entries/entry?domain={Uri.EscapeDataString(domain)}"), token, null, ct);
        var body = await ReadJsonAsync(response, "config entries", ct);
        return body.Deserialize<List<ConfigEntry>>(HomeAssistantJson.Options) ?? [];
    }

    /// <summary>
    /// Deletes one config entry (<c>DELETE /api/config/config_entries/entry/{id}</c>, components/config/config_entries.py);
    /// false when Home Assistant has no such entry (404 "Invalid entry specified"): gone either way.
    /// </summary>
    public async Task<bool> DeleteConfigEntryAsync(Uri site, string token, string entryId, CancellationToken ct)
    {
        using var response = await SendAsync(Http, HttpMethod.Delete, new Uri(site, $"api/config/config_entries/entry/{Uri.EscapeDataString(entryId)}"), token, null, ct, throwOnError: false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await ReadJsonAsync(response, "deleting a config entry", ct);
        return true;
    }

    // --- Plumbing -------------------------------------------------------------------------------

    private HttpClient Http => httpClients.CreateClient(HttpClientName);

    internal static FlowResult ParseFlow(JsonElement root)
    {
        string? Text(string name) => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        JsonElement? Element(string name) => root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.Clone() : null;
        var errors = root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object
            ? e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText())
            : null;
        return new FlowResult(Text("type") ?? "unknown", Text("flow_id"), Text("handler"), Text("step_id"), Element("data_schema"),
            errors is { Count: > 0 } ? errors : null, FlowResult.MenuOf(root), Text("reason"), Element("result"), Text("title"));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, Uri url, string? token, HttpContent? content, CancellationToken ct, bool throwOnError = true)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, ct);
        }
        catch (Exception ex) when (IsUnreachable(ex, ct))
        {
            throw new HomeAssistantException($"Home Assistant at {url.Authority} did not answer {method} {url.AbsolutePath}: {ex.Message}", inner: ex);
        }

        if ((int)response.StatusCode is >= 300 and < 400)
        {
            var location = response.Headers.Location;
            response.Dispose();
            // Not followed: the live port moved (a restore can bring back another port); the caller locates it again.
            throw new HomeAssistantException($"Home Assistant at {url.Authority} redirected {method} {url.AbsolutePath} to {location}; its port changed.", HttpStatusCode.Redirect, "moved");
        }

        if (throwOnError && !response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ErrorAsync(response, url.AbsolutePath, ct);
            }
        }

        return response;
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, what, ct);
        }

        try
        {
            return (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).Clone();
        }
        catch (JsonException)
        {
            throw Unexpected(what, response);
        }
    }

    /// <summary>Home Assistant's error as one readable line: its message and code (JSON) or the start of its text.</summary>
    private static async Task<HomeAssistantException> ErrorAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        string? message = null;
        string? code = null;
        if (text.TrimStart().StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                message = doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                code = doc.RootElement.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()
                    : doc.RootElement.TryGetProperty("error", out var err) && err.ValueKind == JsonValueKind.String ? err.GetString() : null;
            }
            catch (JsonException)
            {
                // Not JSON after all: the text below says what it was.
            }
        }

        message ??= text.Length > 200 ? text[..200] : text;
        var detail = string.Join(" ", new[] { code is null ? null : $"[{code}]", message.Trim() }.Where(s => !string.IsNullOrEmpty(s)));
        return new HomeAssistantException($"Home Assistant answered {(int)response.StatusCode} to {what}{(detail.Length > 0 ? $": {detail}" : "")}", response.StatusCode, code);
    }

    private static HomeAssistantException Unexpected(string what, HttpResponseMessage response) =>
        new($"Home Assistant sent an unexpected answer to {what} (HTTP {(int)response.StatusCode}).", response.StatusCode);

    // A socket closed in the middle of connecting (Core restarting) can surface as a bare SocketException.
    private static bool IsUnreachable(Exception ex, CancellationToken ct) =>
        ex is HttpRequestException or IOException or System.Net.Sockets.SocketException or TimeoutException or Polly.Timeout.TimeoutRejectedException
        || (ex is OperationCanceledException && !ct.IsCancellationRequested);
}
