using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Http;

/// <summary>components/auth: /auth/providers, the login flow (auth/login_flow.py) and /auth/token (form-encoded only).</summary>
internal sealed class AuthApi(HaRuntime ha)
{
    private static readonly JsonArray Handler = ["homeassistant", null];

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/auth/providers", Providers);
        app.MapGet("/auth/login_flow", http => HaHttp.Empty(http, 405));
        app.MapPost("/auth/login_flow", StartLogin);
        app.MapGet("/auth/login_flow/{flowId}", http => HaHttp.Message(http, "Invalid flow specified", 404));
        app.MapPost("/auth/login_flow/{flowId}", (HttpContext http, string flowId) => LoginStep(http, flowId));
        app.MapDelete("/auth/login_flow/{flowId}", (HttpContext http, string flowId) =>
        {
            lock (ha.Sync)
            {
                return ha.LoginFlows.Remove(flowId) ? HaHttp.Message(http, "Flow aborted") : HaHttp.Message(http, "Invalid flow specified", 404);
            }
        });
        app.MapPost("/auth/token", Token);
    }

    private Task Providers(HttpContext http)
    {
        lock (ha.Sync)
        {
            if (!ha.UserOnboarded)
            {
                return HaHttp.Message(http, "Onboarding not finished", 400, "onboarding_required");
            }
        }

        var providers = new JsonArray(new JsonObject { ["name"] = "Home Assistant Local", ["id"] = null, ["type"] = "homeassistant" });
        // Since 2023.12 the list is wrapped with the remember-me preselection.
        return HaHttp.Json(http, VersionAtLeast(ha.Versions.Core, 2023, 12)
            ? new JsonObject { ["providers"] = providers, ["preselect_remember_me"] = true }
            : providers);
    }

    private async Task StartLogin(HttpContext http)
    {
        if (await HaHttp.ReadJsonAsync(http) is not { } body)
        {
            await HaHttp.Message(http, "Invalid JSON.", 400);
            return;
        }

        if (HaHttp.Check(body, [("client_id", true, JsonValueKind.String), ("handler", true, JsonValueKind.Array), ("redirect_uri", true, JsonValueKind.String),
                ("type", false, JsonValueKind.String)]) is { } error && !(body["handler"]?.GetValueKind() == JsonValueKind.String && error.Contains("handler")))
        {
            await HaHttp.Message(http, $"Message format incorrect: {error}", 400);
            return;
        }

        var clientId = body["client_id"]!.GetValue<string>();
        if (!HaHttp.ValidClientId(clientId))
        {
            await HaHttp.Message(http, "Invalid client id", 400);
            return;
        }

        var handler = body["handler"]!;
        var provider = handler.GetValueKind() == JsonValueKind.Array ? handler.AsArray().FirstOrDefault()?.ToString() : handler.ToString();
        if (provider != "homeassistant")
        {
            await HaHttp.Message(http, "Invalid handler specified", 404);
            return;
        }

        var flow = new LoginFlow(HaConfig.NewId(), clientId, body["redirect_uri"]!.GetValue<string>(), HaHttp.RemoteIp(http));
        lock (ha.Sync)
        {
            ha.LoginFlows[flow.FlowId] = flow;
        }

        await HaHttp.Json(http, LoginForm(flow.FlowId, null));
    }

    private async Task LoginStep(HttpContext http, string flowId)
    {
        if (await HaHttp.ReadJsonAsync(http) is not { } body)
        {
            await HaHttp.Message(http, "Invalid JSON.", 400);
            return;
        }

        if (HaHttp.Check(body, [("client_id", true, JsonValueKind.String)], allowExtra: true) is { } error)
        {
            await HaHttp.Message(http, $"Message format incorrect: {error}", 400);
            return;
        }

        var clientId = body["client_id"]!.GetValue<string>();
        body.Remove("client_id");
        if (!HaHttp.ValidClientId(clientId))
        {
            await HaHttp.Message(http, "Invalid client id", 400);
            return;
        }

        LoginFlow? flow;
        lock (ha.Sync)
        {
            flow = ha.LoginFlows.GetValueOrDefault(flowId);
        }

        if (flow is null)
        {
            await HaHttp.Message(http, "Invalid flow specified", 404);
            return;
        }

        if (flow.RemoteIp != HaHttp.RemoteIp(http))
        {
            await HaHttp.Message(http, "IP address changed", 400);
            return;
        }

        if (HaHttp.Check(body, [("username", true, JsonValueKind.String), ("password", true, JsonValueKind.String)]) is not null)
        {
            await HaHttp.Message(http, "User input malformed", 400);
            return;
        }

        var username = body["username"]!.GetValue<string>().Trim().ToLowerInvariant();
        var password = body["password"]!.GetValue<string>();
        HaConfig config;
        lock (ha.Sync)
        {
            config = ha.Config;
        }

        // bcrypt outside the lock: it is slow on purpose.
        var valid = config.PasswordMatches(username, password);
        string? code = null;
        HaUser? user = null;
        lock (ha.Sync)
        {
            if (!valid)
            {
                ha.FailedLogins++;
            }

            if (valid && ha.Config == config && ha.LoginFlows.Remove(flowId))
            {
                var credential = ha.Config.Credentials.FirstOrDefault(c => c.Username == username);
                user = credential is null ? null : ha.Config.Users.FirstOrDefault(u => u.Id == credential.UserId);
                if (user is { IsActive: true } && HaHttp.ValidRedirect(clientId, flow.RedirectUri))
                {
                    code = Tokens.CreateAuthCode(ha, clientId, user, credential!.Id);
                }
            }
        }

        if (!valid)
        {
            await HaHttp.Json(http, LoginForm(flowId, new JsonObject { ["base"] = "invalid_auth" }));
        }
        else if (!HaHttp.ValidRedirect(clientId, flow.RedirectUri))
        {
            await HaHttp.Message(http, "Invalid redirect URI", 403);
        }
        else if (user is { IsActive: false })
        {
            await HaHttp.Message(http, "Login blocked: User is not active", 403);
        }
        else if (code is null)
        {
            await HaHttp.Message(http, "Invalid flow specified", 404);
        }
        else
        {
            await HaHttp.Json(http, new JsonObject
            {
                ["type"] = "create_entry",
                ["flow_id"] = flowId,
                ["handler"] = Handler.DeepClone(),
                ["title"] = "Home Assistant Local",
                ["description"] = null,
                ["description_placeholders"] = null,
                ["version"] = 1,
                ["minor_version"] = 1,
                ["options"] = new JsonObject(),
                ["result"] = code,
            });
        }
    }

    private static JsonObject LoginForm(string flowId, JsonObject? errors) => new()
    {
        ["type"] = "form",
        ["flow_id"] = flowId,
        ["handler"] = Handler.DeepClone(),
        ["step_id"] = "init",
        ["data_schema"] = new JsonArray(
            new JsonObject { ["type"] = "string", ["name"] = "username", ["required"] = true },
            new JsonObject { ["type"] = "string", ["name"] = "password", ["required"] = true }),
        ["errors"] = errors,
        ["description_placeholders"] = null,
        ["last_step"] = null,
        ["preview"] = null,
    };

    private async Task Token(HttpContext http)
    {
        // aiohttp's request.post(): only form bodies give fields; a JSON body reads as no fields at all.
        var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
        string? Field(string name) => form is not null && form.TryGetValue(name, out var v) ? v.ToString() : null;

        if (Field("action") == "revoke")
        {
            lock (ha.Sync)
            {
                ha.Config.RefreshTokens.RemoveAll(t => t.Token == Field("token"));
            }

            await HaHttp.Empty(http, 200);
            return;
        }

        var grant = Field("grant_type");
        if (grant == "authorization_code")
        {
            await AuthorizationCode(http, Field("client_id"), Field("code"));
        }
        else if (grant == "refresh_token")
        {
            await RefreshToken(http, Field("client_id"), Field("refresh_token"));
        }
        else
        {
            await HaHttp.Json(http, new JsonObject { ["error"] = "unsupported_grant_type" }, 400);
        }
    }

    private Task AuthorizationCode(HttpContext http, string? clientId, string? code)
    {
        if (clientId is null || !HaHttp.ValidClientId(clientId))
        {
            return Error(http, "invalid_request", "Invalid client id");
        }

        lock (ha.Sync)
        {
            // Single use: the code is gone whether or not it matches.
            AuthCode? stored = null;
            if (code is not null && ha.AuthCodes.Remove(code, out var found))
            {
                stored = found;
            }

            if (stored is null || stored.ClientId != clientId || stored.Expires <= ha.Now)
            {
                return Error(http, "invalid_request", "Invalid code");
            }

            var user = ha.Config.Users.FirstOrDefault(u => u.Id == stored.UserId);
            if (user is not { IsActive: true })
            {
                return HaHttp.Json(http, new JsonObject { ["error"] = "access_denied", ["error_description"] = "User is not active" }, 403);
            }

            var refresh = Tokens.CreateRefreshToken(ha, user, clientId, null, null, HaRefreshToken.Normal, ha.Options.AccessTokenLifetime, stored.CredentialId);
            var access = Tokens.CreateAccessToken(ha, refresh, HaHttp.RemoteIp(http));
            http.Response.Headers.CacheControl = "no-store";
            return HaHttp.Json(http, new JsonObject
            {
                ["access_token"] = access,
                ["token_type"] = "Bearer",
                ["refresh_token"] = refresh.Token,
                ["expires_in"] = (int)ha.Options.AccessTokenLifetime.TotalSeconds,
                ["ha_auth_provider"] = "homeassistant",
            });
        }
    }

    private Task RefreshToken(HttpContext http, string? clientId, string? token)
    {
        if (clientId is not null && !HaHttp.ValidClientId(clientId))
        {
            return Error(http, "invalid_request", "Invalid client id");
        }

        if (token is null)
        {
            return HaHttp.Json(http, new JsonObject { ["error"] = "invalid_request" }, 400);
        }

        lock (ha.Sync)
        {
            var refresh = ha.Config.RefreshTokens.FirstOrDefault(t => t.Token == token);
            if (refresh is null)
            {
                return HaHttp.Json(http, new JsonObject { ["error"] = "invalid_grant" }, 400);
            }

            if (refresh.ClientId != clientId)
            {
                return HaHttp.Json(http, new JsonObject { ["error"] = "invalid_request" }, 400);
            }

            var user = ha.Config.Users.FirstOrDefault(u => u.Id == refresh.UserId);
            if (user is not { IsActive: true })
            {
                return HaHttp.Json(http, new JsonObject { ["error"] = "access_denied", ["error_description"] = "User is not active" }, 403);
            }

            var access = Tokens.CreateAccessToken(ha, refresh, HaHttp.RemoteIp(http));
            return HaHttp.Json(http, new JsonObject
            {
                ["access_token"] = access,
                ["token_type"] = "Bearer",
                ["expires_in"] = (int)refresh.AccessTokenExpiration,
            });
        }
    }

    private static Task Error(HttpContext http, string error, string description) =>
        HaHttp.Json(http, new JsonObject { ["error"] = error, ["error_description"] = description }, 400);

    internal static bool VersionAtLeast(string version, int year, int month)
    {
        var parts = version.Split('.');
        return parts.Length >= 2 && int.TryParse(parts[0], out var y) && int.TryParse(parts[1], out var m) && (y > year || (y == year && m >= month));
    }
}
