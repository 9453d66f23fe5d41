using System.Globalization;
using System.Threading.RateLimiting;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Http;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Auth;

/// <summary>
/// Who may call what. Secure by default: the fallback policy requires a signed-in user or an API token, so an
/// endpoint that declares nothing is closed; endpoints say <c>.RequireRole(Role.X)</c> or, rarely, <c>.AllowAnonymous()</c>.
/// </summary>
public static class AccessControl
{
    /// <summary>Picks the cookie or the API token handler per request.</summary>
    public const string Scheme = "CookieOrApiToken";

    public const string SessionCookie = "ctrlable.session";
    public const string AntiforgeryCookie = "ctrlable.csrf";
    public const string AntiforgeryHeader = "X-CSRF-TOKEN";

    /// <summary>Rate limiter policy of sign-in and setup: attempts per client address and minute.</summary>
    public const string SignInRateLimit = "sign-in";

    public static IHostApplicationBuilder AddAccessControl(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddConfigOptions<AuthOptions>(AuthOptions.Section);
        services.AddSingleton<UserRepository>();
        services.AddSingleton<ApiTokenRepository>();
        services.AddSingleton<AuditRepository>();
        services.AddSingleton<AuditRetention>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditRetention>());
        services.AddSingleton<SetupState>();
        services.AddSingleton<SetupCode>();
        services.AddSingleton<IPasswordHasher<string>, PasswordHashing>();
        services.AddSingleton<AccountService>();
        services.AddSingleton<ApiTokenService>();

        services.AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "Session cookie or API token", o => o.ForwardDefaultSelector = context =>
                ApiTokenAuthenticationHandler.BearerToken(context.Request) is null
                    ? CookieAuthenticationDefaults.AuthenticationScheme
                    : ApiTokenAuthenticationHandler.SchemeName)
            .AddCookie(o =>
            {
                o.Cookie.Name = SessionCookie;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.SlidingExpiration = true;
                // An API answers 401/403; the SPA decides where to go.
                o.Events.OnRedirectToLogin = context => Status(context.Response, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = context => Status(context.Response, StatusCodes.Status403Forbidden);
                o.Events.OnValidatePrincipal = context =>
                    context.HttpContext.RequestServices.GetRequiredService<AccountService>().ValidateSessionAsync(context);
            })
            .AddScheme<ApiTokenSchemeOptions, ApiTokenAuthenticationHandler>(ApiTokenAuthenticationHandler.SchemeName, null);
        services.AddOptions<CookieAuthenticationOptions>(CookieAuthenticationDefaults.AuthenticationScheme)
            .Configure<IOptions<AuthOptions>>((cookie, auth) => cookie.ExpireTimeSpan = TimeSpan.FromHours(auth.Value.SessionHours));

        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(AuthPolicies.RequireViewer, p => p.RequireAuthenticatedUser().RequireRole(Roles.AtLeast(Role.Viewer)))
            .AddPolicy(AuthPolicies.RequireOperator, p => p.RequireAuthenticatedUser().RequireRole(Roles.AtLeast(Role.Operator)))
            .AddPolicy(AuthPolicies.RequireAdmin, p => p.RequireAuthenticatedUser().RequireRole(Roles.AtLeast(Role.Admin)));

        services.AddAntiforgery(o =>
        {
            o.HeaderName = AntiforgeryHeader;
            o.Cookie.Name = AntiforgeryCookie;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            // The security headers middleware sends frame-ancestors 'none' and X-Frame-Options: DENY.
            o.SuppressXFrameOptionsHeader = true;
        });

        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (context, ct) =>
            {
                var detail = "Too many attempts from this address. Wait a minute and try again.";
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                {
                    var seconds = (int)Math.Ceiling(retryAfter.TotalSeconds);
                    context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                    detail = $"Too many attempts from this address. Try again in {seconds} s.";
                }

                await new Refusal(StatusCodes.Status429TooManyRequests, "Too many attempts", detail).ToProblem().ExecuteAsync(context.HttpContext);
            };
            // Per client address; per account, the lockout counts failures.
            o.AddPolicy(SignInRateLimit, context => RateLimitPartition.GetFixedWindowLimiter(
                context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = context.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.SignInPermitLimit,
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                }));
        });

        return builder;
    }

    /// <summary>
    /// The access pipeline, in order: the setup gate (503 until the first admin exists), authentication, the
    /// audit log (so it sees the caller and every outcome), authorization, antiforgery for cookie callers, rate limits.
    /// </summary>
    public static WebApplication UseAccessControl(this WebApplication app)
    {
        app.UseMiddleware<SetupGateMiddleware>();
        app.UseAuthentication();
        app.UseMiddleware<AuditMiddleware>();
        app.UseAuthorization();
        app.UseMiddleware<AntiforgeryMiddleware>();
        app.UseRateLimiter();
        return app;
    }

    /// <summary>While no admin exists, makes sure the set-up code waits in its file and tells the operator where.</summary>
    public static async Task AnnounceSetupCodeAsync(this WebApplication app)
    {
        if (!await app.Services.GetRequiredService<SetupState>().IsDoneAsync())
        {
            app.Services.GetRequiredService<SetupCode>().Announce();
        }
    }

    public static bool IsStateChanging(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    private static Task Status(HttpResponse response, int status)
    {
        response.StatusCode = status;
        return Task.CompletedTask;
    }
}

/// <summary>Until the first admin exists every endpoint that needs credentials answers 503 pointing at setup.</summary>
internal sealed class SetupGateMiddleware(RequestDelegate next, SetupState setup)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is { } endpoint
            && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null
            && !await setup.IsDoneAsync(context.RequestAborted))
        {
            await new Refusal(
                    StatusCodes.Status503ServiceUnavailable,
                    "Setup required",
                    "No admin account exists yet. Open the orchestrator in a browser to create one, or run it once with --create-admin <name>.",
                    Extensions: new Dictionary<string, object?> { ["code"] = "setup-required", ["setupPath"] = "/setup" })
                .ToProblem().ExecuteAsync(context);
            return;
        }

        await next(context);
    }
}

/// <summary>
/// Cookie-authenticated (and anonymous) state-changing requests must carry the antiforgery token in
/// <c>X-CSRF-TOKEN</c>. Requests with an <c>Authorization</c> header are exempt: a browser never adds one cross-site.
/// Endpoints that take no browser traffic opt out with <c>.DisableAntiforgery()</c>.
/// </summary>
internal sealed class AntiforgeryMiddleware(RequestDelegate next, IAntiforgery antiforgery)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (AccessControl.IsStateChanging(context.Request.Method)
            && context.GetEndpoint() is { } endpoint
            && endpoint.Metadata.GetMetadata<IAntiforgeryMetadata>() is not { RequiresValidation: false }
            && ApiTokenAuthenticationHandler.BearerToken(context.Request) is null
            && !await antiforgery.IsRequestValidAsync(context))
        {
            await new Refusal(
                    StatusCodes.Status400BadRequest,
                    "Missing or invalid antiforgery token",
                    $"Fetch GET /api/auth/antiforgery and send its token in the {AccessControl.AntiforgeryHeader} header (again after signing in or out).",
                    Extensions: new Dictionary<string, object?> { ["code"] = "antiforgery" })
                .ToProblem().ExecuteAsync(context);
            return;
        }

        await next(context);
    }
}
