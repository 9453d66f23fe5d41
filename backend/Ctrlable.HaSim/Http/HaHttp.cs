using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Http;

/// <summary>Response shapes of aiohttp and HomeAssistantView, and request parsing as RequestDataValidator does it.</summary>
internal static class HaHttp
{
    public const string PrincipalKey = "ha.principal";

    /// <summary>Python's json.dumps leaves quotes and non-ASCII alone; so do we (no \u0027 in messages).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>aiohttp's HTTP exceptions: "401: Unauthorized" as text/plain.</summary>
    public static Task Text(HttpContext http, int status, string? text = null)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync(text ?? $"{status}: {ReasonOf(status)}");
    }

    public static Task Json(HttpContext http, JsonNode? body, int status = 200)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(body?.ToJsonString(JsonOptions) ?? "null");
    }

    /// <summary>HomeAssistantView.json_message: <c>{"message": …, "code"?: …}</c>.</summary>
    public static Task Message(HttpContext http, string message, int status = 200, string? code = null)
    {
        var body = new JsonObject { ["message"] = message };
        if (code is not null)
        {
            body["code"] = code;
        }

        return Json(http, body, status);
    }

    public static Task Empty(HttpContext http, int status)
    {
        http.Response.StatusCode = status;
        return Task.CompletedTask;
    }

    public static HaPrincipal? Principal(HttpContext http) => http.Items[PrincipalKey] as HaPrincipal;

    public static string? RemoteIp(HttpContext http) => http.Connection.RemoteIpAddress?.ToString();

    /// <summary>A JSON object body, or the 400 RequestDataValidator answers ("Invalid JSON.").</summary>
    public static async Task<JsonObject?> ReadJsonAsync(HttpContext http)
    {
        using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(http.RequestAborted);
        try
        {
            return JsonNode.Parse(string.IsNullOrEmpty(text) ? "{}" : text) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// voluptuous over a JSON object: required keys, value kinds, and (unless <paramref name="allowExtra"/>) no other keys.
    /// Returns the error text voluptuous would give, or null.
    /// </summary>
    public static string? Check(JsonObject body, IReadOnlyList<(string Name, bool Required, JsonValueKind Kind)> schema, bool allowExtra = false)
    {
        if (!allowExtra)
        {
            foreach (var (key, _) in body)
            {
                if (schema.All(s => s.Name != key))
                {
                    return $"extra keys not allowed @ data['{key}']";
                }
            }
        }

        foreach (var (name, required, kind) in schema)
        {
            var value = body[name];
            if (value is null)
            {
                if (required)
                {
                    return $"required key not provided @ data['{name}']";
                }

                continue;
            }

            var actual = value.GetValueKind();
            var ok = kind == JsonValueKind.True ? actual is JsonValueKind.True or JsonValueKind.False : actual == kind;
            if (!ok)
            {
                var expected = kind switch
                {
                    JsonValueKind.String => "str",
                    JsonValueKind.Number => "int",
                    JsonValueKind.Array => "list",
                    JsonValueKind.True => "bool",
                    _ => "dict",
                };
                return $"expected {expected} for dictionary value @ data['{name}']";
            }
        }

        return null;
    }

    /// <summary>
    /// indieauth.verify_client_id: http(s), a path, no fragment, no user info; a bare IP must be loopback or local
    /// (anything with a port is accepted, since <c>ip_address("1.2.3.4:80")</c> fails and is taken for a host name).
    /// </summary>
    public static bool ValidClientId(string? clientId)
    {
        if (clientId is null || !Uri.TryCreate(clientId, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return false;
        }

        if (!string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo) || clientId.Contains("/./") || clientId.Contains("/../"))
        {
            return false;
        }

        var hasPort = clientId[(clientId.IndexOf("//", StringComparison.Ordinal) + 2)..].Split('/')[0].Contains(':') && uri.HostNameType != UriHostNameType.IPv6;
        if (hasPort || !IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
        {
            return true;
        }

        return IPAddress.IsLoopback(ip) || IsPrivate(ip);
    }

    /// <summary>indieauth.verify_redirect_uri without the fetch: same scheme and host:port as the client id.</summary>
    public static bool ValidRedirect(string clientId, string redirectUri) =>
        ValidClientId(clientId)
        && Uri.TryCreate(clientId, UriKind.Absolute, out var c)
        && Uri.TryCreate(redirectUri, UriKind.Absolute, out var r)
        && c.Scheme == r.Scheme && c.Authority == r.Authority;

    private static bool IsPrivate(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? b[0] == 10 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254)
            : ip.IsIPv6LinkLocal || ip.IsIPv6UniqueLocal;
    }

    private static string ReasonOf(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Error",
    };
}
