using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Schema;
using Microsoft.AspNetCore.Http.Features;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// The request path of pveproxy/pvedaemon, in its order: transport checks, authentication, handler lookup
/// (501), URI/body parameter merge, API-token restriction, the schema's permission check (403), proxy to the
/// target node, parameter validation (400), the handler, and the <c>{"data": ...}</c> envelope.
/// </summary>
internal sealed partial class PveApiMiddleware(SimContext sim, PveRouter router)
{
    /// <summary>Header by which the host CLI stand-ins ask to act as root@pam (see <see cref="HostCli"/>).</summary>
    public const string CliHeader = "X-PveSim-Cli";

    private const string JsonType = "application/json;charset=UTF-8";

    // Perl's JSON writes quotes and non-ASCII text as they are; so do we.
    private static readonly JsonSerializerOptions Wire = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async Task InvokeAsync(HttpContext http)
    {
        sim.CountRequest();
        var rawPath = http.Request.Path.Value ?? "/";
        var match = ApiPath().Match(rawPath);
        if (!match.Success)
        {
            await WritePlainError(http, 501, "no such uri");
            return;
        }

        http.Response.Headers.Server = "pve-api-daemon/3.0";
        http.Response.Headers.CacheControl = "max-age=0";
        var format = match.Groups[1].Value;
        var relPath = match.Groups[2].Value.Length == 0 ? "/" : match.Groups[2].Value;
        if (sim.Intercept is { } intercept)
        {
            // A test's hook around the whole request: it may act before the request is handled and after it is answered.
            await intercept(new SimApiCall(http.Request.Method, relPath, http.Request.QueryString.Value ?? ""), () => HandleAsync(http, format, relPath));
            return;
        }

        await HandleAsync(http, format, relPath);
    }

    private async Task HandleAsync(HttpContext http, string format, string relPath)
    {
        var method = http.Request.Method;
        if (sim.Faults.DropConnection(method, relPath))
        {
            http.Abort();
            return;
        }

        var latency = sim.Faults.Latency(method, relPath);
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, sim.Clock.Time, http.RequestAborted);
        }

        if (http.Request.Headers.TransferEncoding.ToString().Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            await WritePlainError(http, 501, "chunked transfer encoding not supported");
            return;
        }

        if (format != "json")
        {
            await WritePlainError(http, 501, $"no formatter for uri {relPath}, {format}");
            return;
        }

        string authId;
        try
        {
            authId = Authenticate(http, method, relPath);
        }
        catch (UnauthorizedAccessException e)
        {
            await sim.Clock.Delay(sim.Timings.UnauthorizedDelay, http.RequestAborted);
            SetStatus(http, 401, e.Message);
            http.Response.ContentLength = 0;
            return;
        }

        if (http.Request.ContentLength is > 0 && method is not ("POST" or "PUT"))
        {
            await WritePlainError(http, 501, $"Unexpected content for method '{method}'");
            return;
        }

        if (sim.Faults.ServerError(method, relPath))
        {
            var settings = sim.Faults.Settings;
            await WriteResult(http, new PveException(settings.ServerErrorStatus, settings.ServerErrorMessage), null, null);
            return;
        }

        Dictionary<string, JsonNode?> parameters;
        try
        {
            parameters = await ReadParameters(http, method);
        }
        catch (JsonException)
        {
            await WritePlainError(http, 400, "malformed JSON body");
            return;
        }

        var localNode = sim.NodeByPort.GetValueOrDefault(http.Connection.LocalPort) ?? sim.State.Nodes.Keys.First();
        try
        {
            var request = Prepare(method, relPath, authId, localNode, parameters);
            var handler = router.Find(method, request.Endpoint.Path)
                ?? throw new PveException(501, $"PveSim does not emulate '{method} {request.Endpoint.Path}'");
            var data = handler(request);
            await WriteResult(http, null, data, request.Total);
        }
        catch (PveException e)
        {
            await WriteResult(http, e, null, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An emulator bug: answer like an unexpected Perl die, and keep it for tests to assert on.
            sim.Tasks.RecordInternalError(e);
            await WriteResult(http, PveException.Die($"PveSim internal error: {e.Message}"), null, null);
        }
    }

    /// <summary>Finds the endpoint, merges parameters, checks token use, permissions, node and parameters.</summary>
    private PveRequest Prepare(string method, string relPath, string authId, string localNode, Dictionary<string, JsonNode?> parameters)
    {
        var notImplemented = new PveException(501, $"Method '{method} {relPath}' not implemented") { TrailingNewline = false };
        var matched = sim.Schema.Match(relPath) ?? throw notImplemented;
        var endpoint = sim.Schema.Find(method, matched.Template) ?? throw notImplemented;

        var merged = matched.UriParams.ToDictionary(p => p.Key, p => (JsonNode?)JsonValue.Create(p.Value), StringComparer.Ordinal);
        foreach (var (key, value) in parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (matched.UriParams.TryGetValue(key, out var fromUri) && (value is null || ParameterValidator.ScalarText(value) != fromUri))
            {
                throw PveException.ParamError(key, "duplicate parameter (already defined in URI) with conflicting values!");
            }

            merged[key] = value;
        }

        var text = merged
            .Where(p => p.Value is not null and not JsonObject and not JsonArray)
            .ToDictionary(p => p.Key, p => ParameterValidator.ScalarText(p.Value!), StringComparer.Ordinal);

        if (AccessControl.SplitTokenId(authId) is not null && !endpoint.AllowToken)
        {
            throw PveException.PermissionDenied($"URI '{relPath}' not available with API token, need proper ticket.\n");
        }

        lock (sim.State.Sync)
        {
            PermissionChecker.CheckApi2(sim.State.Access, endpoint.Permissions, authId, text);

            if (endpoint.ProxyTo == "node" && text.TryGetValue("node", out var node) && node != "localhost")
            {
                if (!sim.State.Nodes.TryGetValue(node, out var target))
                {
                    throw PveException.Die($"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known");
                }

                if (!target.Online)
                {
                    // pveproxy proxies to the node (AnyEvent::HTTP): a node that is powered off does not answer ARP: EHOSTUNREACH.
                    throw new PveException(595, "No route to host");
                }
            }
        }

        var errors = ParameterValidator.Validate(endpoint, merged);
        if (errors.Count > 0)
        {
            throw PveException.ParamError(errors);
        }

        if (text.GetValueOrDefault("node") == "localhost")
        {
            text["node"] = localNode;
        }

        return new PveRequest(sim, endpoint, authId, localNode, text);
    }

    private string Authenticate(HttpContext http, string method, string relPath)
    {
        var noAuth = (relPath == "/access/domains" && method == "GET")
            || (relPath == "/access/ticket" && method is "GET" or "POST");
        var header = http.Request.Headers.Authorization.ToString();
        var ticket = http.Request.Cookies["PVEAuthCookie"] ?? AuthValue(header, "PVEAuthCookie");
        if (noAuth)
        {
            return "";
        }

        if (ticket is not null)
        {
            // The emulator issues no tickets, so no ticket can verify.
            throw new UnauthorizedAccessException("Authentication failed!");
        }

        var token = AuthValue(header, "PVEAPIToken") ?? throw new UnauthorizedAccessException("No ticket");
        try
        {
            lock (sim.State.Sync)
            {
                var tokenId = sim.State.Access.VerifyToken(token, sim.Clock.UnixNow);
                return HostCli(http, tokenId) ? "root@pam" : tokenId;
            }
        }
        catch (UnauthorizedAccessException)
        {
            throw new UnauthorizedAccessException("Authentication failed!");
        }
    }

    /// <summary>
    /// The host's own CLI (pct, qm, pvesh) runs API handlers in-process as root@pam, which no API token can
    /// be. Stand-ins for those tools send <c>X-PveSim-Cli: root</c> with a root@pam token that is not privilege
    /// separated; the emulator then acts as root@pam, as on the host. Only with the admin endpoints enabled
    /// and from loopback, like <c>/_sim</c>.
    /// </summary>
    private bool HostCli(HttpContext http, string tokenId)
    {
        if (!sim.Options.AdminEndpoints
            || http.Request.Headers[CliHeader].ToString() != "root"
            || http.Connection.RemoteIpAddress is not { } remote
            || !System.Net.IPAddress.IsLoopback(remote)
            || AccessControl.SplitTokenId(tokenId) is not ("root@pam", var name))
        {
            return false;
        }

        return sim.State.Access.Users["root@pam"].Tokens.TryGetValue(name, out var t) && !t.Privsep;
    }

    /// <summary>Formatter::extract_auth_value: <c>(?:^|\s)KEY(?:=| )([^;]*)</c>, URI-unescaped.</summary>
    private static string? AuthValue(string header, string key)
    {
        if (header.Length == 0)
        {
            return null;
        }

        var m = Regex.Match(header, $@"(?:^|\s){Regex.Escape(key)}(?:=| )([^;]*)");
        return m.Success && m.Groups[1].Value.Length > 0 ? Uri.UnescapeDataString(m.Groups[1].Value) : null;
    }

    private static async Task<Dictionary<string, JsonNode?>> ReadParameters(HttpContext http, string method)
    {
        var result = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        if (method is "POST" or "PUT")
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync(http.RequestAborted);
            var contentType = http.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
            if (contentType == "application/json" && body.Length > 0)
            {
                if (JsonNode.Parse(body) is JsonObject json)
                {
                    foreach (var (key, value) in json)
                    {
                        result[key] = value?.DeepClone();
                    }
                }
            }
            else
            {
                FormDecoding.Add(result, body);
            }
        }

        FormDecoding.Add(result, http.Request.QueryString.Value?.TrimStart('?') ?? "");
        result.Remove("_dc"); // ExtJS cache buster
        return result;
    }

    private async Task WriteResult(HttpContext http, PveException? error, JsonNode? data, int? total)
    {
        var body = new JsonObject { ["data"] = data };
        if (error is null)
        {
            if (total is { } t)
            {
                body["total"] = t;
            }

            http.Response.StatusCode = 200;
        }
        else
        {
            if (error.Errors is { Count: > 0 } errors)
            {
                var obj = new JsonObject();
                foreach (var (key, value) in errors)
                {
                    obj[key] = value;
                }

                body["errors"] = obj;
            }

            if (sim.Options.ErrorMessageInBody ?? sim.Options.Version.ErrorMessageInBody())
            {
                body["message"] = error.TrailingNewline ? error.Message + "\n" : error.Message;
            }

            SetStatus(http, error.Status, error.Message);
        }

        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString(Wire));
        http.Response.ContentType = JsonType;
        http.Response.ContentLength = bytes.Length;
        await http.Response.Body.WriteAsync(bytes, http.RequestAborted);
    }

    /// <summary>pve-http-server's own errors ($self->error): the message is both reason phrase and body.</summary>
    private static async Task WritePlainError(HttpContext http, int status, string message)
    {
        SetStatus(http, status, message);
        var bytes = Encoding.UTF8.GetBytes(message);
        http.Response.ContentLength = bytes.Length;
        await http.Response.Body.WriteAsync(bytes, http.RequestAborted);
    }

    /// <summary>The reason phrase is the first line of the message; a message with a CR becomes 400 Bad Request.</summary>
    private static void SetStatus(HttpContext http, int status, string message)
    {
        var reason = message.Split('\n')[0];
        if (reason.Contains('\r'))
        {
            status = 400;
            reason = "Bad Request";
        }

        http.Response.StatusCode = status;
        http.Features.Get<IHttpResponseFeature>()!.ReasonPhrase = reason;

        // pveproxy drops keep-alive after every error answer.
        http.Response.Headers.Connection = "close";
    }

    [GeneratedRegex("^/api2/([a-z]+)(/.*)?$")]
    private static partial Regex ApiPath();
}
