using Ctrlable.HaSim.Flows;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Http;

/// <summary>The landing page container (home-assistant/landingpage): shown while Core is downloaded.</summary>
internal static class LandingPage
{
    private const string Html = """
        <!DOCTYPE html><html><head><title>Home Assistant</title></head>
        <body><h1>Preparing Home Assistant</h1><p>This can take up to 20 minutes.</p></body></html>
        """;

    public static void Map(WebApplication app)
    {
        app.Run(http =>
        {
            var path = http.Request.Path.Value ?? "/";
            if (path is "/" or "/auth/authorize" or "/index.html")
            {
                http.Response.ContentType = "text/html; charset=utf-8";
                return http.Response.WriteAsync(Html);
            }

            if (path.StartsWith("/api/", StringComparison.Ordinal) || path == "/api")
            {
                // Go's http.Error: the text plus a newline, text/plain.
                return HaHttp.Text(http, 401, "Unauthorized\n");
            }

            if (path == "/auth/token")
            {
                return HaHttp.Text(http, 400, "Bad Request\n");
            }

            if (path == "/observer/logs")
            {
                return HaHttp.Text(http, 200, "Supervisor: Downloading Home Assistant Core\n");
            }

            if (path.StartsWith("/supervisor-api/", StringComparison.Ordinal))
            {
                return HaHttp.Json(http, new System.Text.Json.Nodes.JsonObject { ["result"] = "ok", ["data"] = new System.Text.Json.Nodes.JsonObject() });
            }

            return HaHttp.Text(http, 404, "404 page not found\n");
        });
    }
}

/// <summary>Home Assistant Core's HTTP server: the http component's middlewares, then the views.</summary>
internal static class CoreApp
{
    public static void Map(WebApplication app, HaRuntime ha, ConfigFlows flows, WebSocketApi websocket, Action<RestartRequest> restart, Func<CancellationToken> stopping)
    {
        app.UseWebSockets();
        app.Use(async (http, next) =>
        {
            // http/forwarded.py: an X-Forwarded-For without use_x_forwarded_for is refused.
            if (http.Request.Headers.ContainsKey("X-Forwarded-For"))
            {
                await HaHttp.Text(http, 400);
                return;
            }

            var header = http.Request.Headers.Authorization.ToString();
            if (header.StartsWith("Bearer ", StringComparison.Ordinal))
            {
                lock (ha.Sync)
                {
                    http.Items[HaHttp.PrincipalKey] = Tokens.Validate(ha, header["Bearer ".Length..]);
                }
            }

            await next(http);
        });

        app.MapGet("/", (HttpContext http) =>
        {
            http.Response.ContentType = "text/html; charset=utf-8";
            return http.Response.WriteAsync("<!DOCTYPE html><html><head><title>Home Assistant</title></head><body><home-assistant></home-assistant></body></html>");
        });
        app.MapGet("/manifest.json", (HttpContext http) => HaHttp.Json(http, new System.Text.Json.Nodes.JsonObject { ["name"] = "Home Assistant", ["short_name"] = "Assistant" }));
        app.MapGet("/api/", (HttpContext http) => HaHttp.Principal(http) is null ? HaHttp.Text(http, 401) : HaHttp.Message(http, "API running."));
        app.MapGet("/api/config", (HttpContext http) => HaHttp.Principal(http) is null
            ? HaHttp.Text(http, 401)
            : HaHttp.Json(http, new System.Text.Json.Nodes.JsonObject { ["version"] = ha.Versions.Core, ["state"] = "RUNNING", ["location_name"] = "Home" }));
        app.Map("/api/websocket", (HttpContext http) => websocket.HandleAsync(http, stopping()));

        new OnboardingApi(ha, restart).Map(app);
        new AuthApi(ha).Map(app);
        new ConfigEntriesApi(ha, flows).Map(app);

        app.MapFallback((HttpContext http) => HaHttp.Text(http, 404));
    }
}
