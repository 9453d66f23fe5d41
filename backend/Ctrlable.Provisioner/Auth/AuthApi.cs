using Ctrlable.Provisioner.Http;
using FluentValidation;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Ctrlable.Provisioner.Auth;

public sealed record SetupStatus(bool Required);

public sealed record SetupRequest(
    string Username,
    string Password,
    [property: System.ComponentModel.Description("The one-time set-up code: install.sh prints it; it is in the file setup-code in the orchestrator's data directory.")] string? SetupCode)
{
    // Records print every property; never the password or the code.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Username = {Username}");
        return true;
    }
}

public sealed record SignInRequest(string Username, string Password);

public sealed record ChangePasswordRequest(string CurrentPassword, string NewPassword);

public sealed record AntiforgeryToken(string HeaderName, string Token);

/// <summary>The caller: a dealer account ("user") or an integrator API token ("token").</summary>
public sealed record CurrentUser(string Name, Role Role, string Kind);

/// <summary>
/// Setup, sign-in and the caller's own account (this file); users, API tokens and the audit log for admins
/// (<c>AuthApi.Admin.cs</c>).
/// </summary>
public static partial class AuthApi
{
    public static IEndpointRouteBuilder MapAuth(this IEndpointRouteBuilder routes)
    {
        MapSetup(routes);
        MapSession(routes);
        MapUsers(routes);
        MapTokens(routes);
        MapAudit(routes);
        return routes;
    }

    private static void MapSetup(IEndpointRouteBuilder routes)
    {
        // Reachable before anything else exists; the POST works only once.
        var setup = routes.MapGroup("/api/setup").WithTags("Access").AllowAnonymous();

        setup.MapGet("/", async Task<Ok<SetupStatus>> (SetupState state, CancellationToken ct) =>
                TypedResults.Ok(new SetupStatus(!await state.IsDoneAsync(ct))))
            .WithName("GetSetupStatus")
            .WithSummary("Whether the first admin account still has to be created.");

        setup.MapPost("/", CreateFirstAdminAsync)
            .WithName("CreateFirstAdmin")
            .WithSummary("Create the first admin account (only on a fresh installation), with the one-time set-up code. Then sign in.")
            .WithDescription("403 `setup-code` when the set-up code is missing or wrong (nothing is created); 409 once an admin exists.")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .RequireRateLimiting(AccessControl.SignInRateLimit);
    }

    private static void MapSession(IEndpointRouteBuilder routes)
    {
        var auth = routes.MapGroup("/api/auth").WithTags("Access");

        auth.MapGet("/antiforgery", Ok<AntiforgeryToken> (HttpContext http, IAntiforgery antiforgery) =>
                TypedResults.Ok(new AntiforgeryToken(AccessControl.AntiforgeryHeader, antiforgery.GetAndStoreTokens(http).RequestToken!)))
            .AllowAnonymous()
            .WithName("GetAntiforgeryToken")
            .WithDescription("Browser sessions send this token in the X-CSRF-TOKEN header on every POST, PUT and DELETE; fetch a new one after signing in or out. Bearer-token callers do not need it.")
            .WithSummary("An antiforgery token for the session cookie (sets its cookie too).");

        auth.MapPost("/sign-in", SignInAsync)
            .AllowAnonymous()
            .RequireRateLimiting(AccessControl.SignInRateLimit)
            .WithName("SignIn")
            .WithSummary("Sign in with user name and password; sets the HttpOnly session cookie.")
            .WithDescription("A refused sign-in is one answer, 401 `wrong-credentials`, whether the account is unknown, disabled or locked or the password is wrong.")
            .ProducesProblem(StatusCodes.Status401Unauthorized);

        auth.MapPost("/sign-out", async Task<NoContent> (HttpContext http) =>
            {
                await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                return TypedResults.NoContent();
            })
            .AllowAnonymous()
            .WithName("SignOut")
            .WithSummary("End the browser session (clears the session cookie).");

        auth.MapGet("/me", Results<Ok<CurrentUser>, UnauthorizedHttpResult> (HttpContext http) =>
                Actor.From(http.User) is { } actor
                    ? TypedResults.Ok(new CurrentUser(actor.Name, actor.Role, actor.Kind))
                    : TypedResults.Unauthorized())
            .RequireRole(Role.Viewer)
            .WithName("GetCurrentUser")
            .WithSummary("The signed-in user or the API token making the call, with its role.");

        auth.MapPost("/password", ChangePasswordAsync)
            .RequireRole(Role.Viewer)
            .WithName("ChangePassword")
            .WithSummary("Change the signed-in user's own password; other sessions of that user end.");
    }

    private static async Task<Results<Created<CurrentUser>, ValidationProblem, ProblemHttpResult>> CreateFirstAdminAsync(
        SetupRequest request, HttpContext http, AccountService accounts, SetupState setup, SetupCode setupCode, IValidator<SetupRequest> validator, CancellationToken ct)
    {
        var username = Credentials.NormaliseUsername(request.Username);
        http.Audit().ActorKind = ActorClaims.UserKind;
        http.Audit().ActorName = Truncate(username);
        if (await setup.IsDoneAsync(ct))
        {
            return SetupDone();
        }

        // Whoever reaches the orchestrator first must not become its admin: only someone who can read the code on the
        // orchestrator's machine (or install.sh's output) can.
        // The code is checked before the fields: without it, nothing about the request is answered.
        if (!setupCode.Matches(request.SetupCode))
        {
            http.Audit().Target = "set-up code missing or wrong";
            return new Refusal(
                StatusCodes.Status403Forbidden,
                "Set-up code required",
                "Enter the set-up code: install.sh printed it, and it is in the file setup-code in the orchestrator's data directory (/var/lib/ctrlable-provisioner on an installed container; run ct-setup.sh setup-code there).",
                Extensions: new Dictionary<string, object?> { ["code"] = "setup-code" }).ToProblem();
        }

        if (await validator.RefuseAsync(request, ct, title: "The admin account cannot be created.") is { } invalid)
        {
            return invalid;
        }

        var user = await accounts.CreateFirstAdminAsync(username, request.Password, ct);
        if (user is null)
        {
            return SetupDone();
        }

        http.Audit().Target = $"user {user.Username}";
        return TypedResults.Created("/api/auth/me", new CurrentUser(user.Username, Role.Admin, ActorClaims.UserKind));
    }

    private static async Task<Results<Ok<CurrentUser>, ValidationProblem, JsonHttpResult<ProblemDetails>>> SignInAsync(
        SignInRequest request, HttpContext http, AccountService accounts, IValidator<SignInRequest> validator, CancellationToken ct)
    {
        var username = Credentials.NormaliseUsername(request.Username);
        http.Audit().ActorKind = ActorClaims.UserKind;
        http.Audit().ActorName = Truncate(username);
        if (await validator.RefuseAsync(request, ct, title: "Enter user name and password.") is { } invalid)
        {
            return invalid;
        }

        switch (await accounts.SignInAsync(username, request.Password, ct))
        {
            case SignInResult.Success(var user):
                var principal = AccountService.Principal(user);
                await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal);
                return TypedResults.Ok(new CurrentUser(user.Username, Roles.Parse(user.Role) ?? Role.Viewer, ActorClaims.UserKind));
            case SignInResult.Locked(var until):
                // Audited, but answered like a wrong password: the answer must not tell which accounts exist.
                http.Audit().Target = $"account locked until {until:O}";
                return SignInRefused();
            default:
                return SignInRefused();
        }
    }

    /// <summary>
    /// The one answer to a refused sign-in, whether the account is unknown, disabled, locked or the password wrong:
    /// the same status and the same bytes, so the answer does not tell which accounts exist. Written as plain JSON, not
    /// through the problem details service, which would add a per-request traceId.
    /// </summary>
    private static JsonHttpResult<ProblemDetails> SignInRefused() => TypedResults.Json(
        new ProblemDetails
        {
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.2",
            Title = "Sign-in failed",
            Status = StatusCodes.Status401Unauthorized,
            Detail = "Wrong user name or password, or the account is locked after too many failed sign-ins (it unlocks by itself after a while, or an admin unlocks it).",
            Extensions = { ["code"] = "wrong-credentials" },
        },
        contentType: "application/problem+json",
        statusCode: StatusCodes.Status401Unauthorized);

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ChangePasswordAsync(
        ChangePasswordRequest request, HttpContext http, AccountService accounts, IValidator<ChangePasswordRequest> validator, CancellationToken ct)
    {
        // Who asks before what they sent: an API token has no password to change, whatever the body holds.
        if (Actor.From(http.User) is not { IsUser: true } actor)
        {
            return new Refusal(
                StatusCodes.Status400BadRequest,
                "Not a user account",
                "API tokens have no password; revoke the token and issue a new one instead.").ToProblem();
        }

        http.Audit().Target = $"user {actor.Name}";
        if (await validator.RefuseAsync(request, ct, title: "Choose a stronger password.", data: Credentials.ForUser(actor.Name)) is { } invalid)
        {
            return invalid;
        }

        var user = await accounts.ChangePasswordAsync(actor.Id, request.CurrentPassword ?? "", request.NewPassword, ct);
        if (user is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["currentPassword"] = ["This is not your current password."] }, title: "The password was not changed.");
        }

        // The new security stamp ends every other session; this one continues with a fresh cookie.
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, AccountService.Principal(user));
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult SetupDone() => new Refusal(
        StatusCodes.Status409Conflict,
        "Setup already done",
        "An admin account exists. Sign in; an admin adds further accounts under Users.").ToProblem();

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64];
}
