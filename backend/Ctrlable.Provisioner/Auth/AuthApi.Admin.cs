using System.ComponentModel;
using Ctrlable.Provisioner.Http;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Auth;

public sealed record UserSummary(long Id, string Username, Role Role, bool Disabled, bool Locked, DateTimeOffset? LastSignInAt, DateTimeOffset CreatedAt);

public sealed record CreateUserRequest(string Username, string Password, Role Role);

public sealed record UpdateUserRequest(Role Role, bool Disabled);

public sealed record ResetPasswordRequest(string NewPassword);

public enum TokenState
{
    Active,
    Expired,
    Revoked,
}

public sealed record ApiTokenSummary(
    long Id,
    string Name,
    [property: Description("First characters of the token, to tell tokens apart.")] string Prefix,
    Role Role,
    TokenState State,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt);

public sealed record CreateTokenRequest(string Name, Role Role, DateTimeOffset? ExpiresAt);

/// <summary>A new token. <see cref="Token"/> is shown this once; only its hash is kept.</summary>
public sealed record CreatedToken(string Token, ApiTokenSummary Summary);

public sealed record AuditRecord(
    long Id,
    DateTimeOffset At,
    [property: Description("user, token or anonymous")] string ActorKind,
    string? ActorName,
    string Method,
    string Route,
    string? Target,
    int StatusCode,
    string? RemoteIp);

public sealed record AuditPage(IReadOnlyList<AuditRecord> Items, int Page, int PageSize, long Total);

public static partial class AuthApi
{
    private static void MapUsers(IEndpointRouteBuilder routes)
    {
        var users = routes.MapGroup("/api/users").WithTags("Users").RequireRole(Role.Admin);

        users.MapGet("/", async Task<Ok<IReadOnlyList<UserSummary>>> (UserRepository repository, TimeProvider time, CancellationToken ct) =>
            {
                var now = time.GetUtcNow();
                return TypedResults.Ok<IReadOnlyList<UserSummary>>([.. (await repository.ListAsync(ct)).Select(u => Summary(u, now))]);
            })
            .WithName("ListUsers")
            .WithSummary("Every dealer account with its role and state.");

        users.MapPost("/", CreateUserAsync)
            .WithName("CreateUser")
            .WithSummary("Add a dealer account with a role.");

        users.MapPut("/{id:long}", UpdateUserAsync)
            .WithName("UpdateUser")
            .WithSummary("Change a user's role or disable/enable the account (also clears a lockout). The last enabled admin stays.");

        users.MapPut("/{id:long}/password", async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> (
                long id, ResetPasswordRequest request, HttpContext http, UserRepository repository, AccountService accounts, IValidator<ResetPasswordRequest> validator, CancellationToken ct) =>
            {
                if (await repository.FindAsync(id, ct) is not { } user)
                {
                    return UserNotFound(id);
                }

                http.Audit().Target = $"user {user.Username}";
                if (await validator.RefuseAsync(request, ct, title: "Choose a stronger password.", data: Credentials.ForUser(user.Username)) is { } invalid)
                {
                    return invalid;
                }

                await accounts.ResetPasswordAsync(id, request.NewPassword, ct);
                return TypedResults.NoContent();
            })
            .WithName("ResetUserPassword")
            .WithSummary("Set a new password for a user (ends their sessions and clears a lockout).");
    }

    private static async Task<Results<Created<UserSummary>, ValidationProblem, ProblemHttpResult>> CreateUserAsync(
        CreateUserRequest request, HttpContext http, AccountService accounts, TimeProvider time, IValidator<CreateUserRequest> validator, CancellationToken ct)
    {
        var username = Credentials.NormaliseUsername(request.Username);
        http.Audit().Target = $"user {Truncate(username)}";
        if (await validator.RefuseAsync(request, ct, title: "The account cannot be created.") is { } invalid)
        {
            return invalid;
        }

        if (await accounts.CreateAsync(username, request.Password, request.Role, ct) is not { } user)
        {
            return new Refusal(StatusCodes.Status409Conflict, "User name taken", $"There is already an account '{username}'.").ToProblem();
        }

        return TypedResults.Created($"/api/users/{user.Id}", Summary(user, time.GetUtcNow()));
    }

    private static async Task<Results<Ok<UserSummary>, ValidationProblem, ProblemHttpResult>> UpdateUserAsync(
        long id, UpdateUserRequest request, HttpContext http, UserRepository repository, TimeProvider time, ILoggerFactory loggers, IValidator<UpdateUserRequest> validator, CancellationToken ct)
    {
        if (await repository.FindAsync(id, ct) is not { } user)
        {
            return UserNotFound(id);
        }

        http.Audit().Target = $"user {user.Username}";
        if (await validator.RefuseAsync(request, ct) is { } invalid)
        {
            return invalid;
        }

        if (!await repository.UpdateAsync(id, request.Role, request.Disabled, time.GetUtcNow(), ct))
        {
            return new Refusal(
                StatusCodes.Status409Conflict,
                "The last admin stays",
                "This would leave no enabled admin account. Make another account admin first.").ToProblem();
        }

        loggers.CreateLogger(typeof(AuthApi)).LogInformation("User {Username} updated: role {Role}, disabled {Disabled}", user.Username, request.Role.Name(), request.Disabled);
        return TypedResults.Ok(Summary((await repository.FindAsync(id, ct))!, time.GetUtcNow()));
    }

    private static void MapTokens(IEndpointRouteBuilder routes)
    {
        var tokens = routes.MapGroup("/api/tokens").WithTags("API tokens").RequireRole(Role.Admin);

        tokens.MapGet("/", async Task<Ok<IReadOnlyList<ApiTokenSummary>>> (ApiTokenRepository repository, TimeProvider time, CancellationToken ct) =>
            {
                var now = time.GetUtcNow();
                return TypedResults.Ok<IReadOnlyList<ApiTokenSummary>>([.. (await repository.ListAsync(ct)).Select(t => Summary(t, now))]);
            })
            .WithName("ListApiTokens")
            .WithSummary("Every API token (never the token itself), newest first.");

        tokens.MapPost("/", CreateTokenAsync)
            .WithName("CreateApiToken")
            .WithSummary("Issue an API token with a role and an optional expiry. The token is in this answer only.");

        tokens.MapDelete("/{id:long}", async Task<Results<NoContent, ProblemHttpResult>> (long id, ApiTokenService service, CancellationToken ct) =>
                await service.RevokeAsync(id, ct)
                    ? TypedResults.NoContent()
                    : new Refusal(StatusCodes.Status404NotFound, "API token not found", $"There is no API token {id}.").ToProblem())
            .WithName("RevokeApiToken")
            .WithSummary("Revoke an API token; it stops working at once.");
    }

    private static async Task<Results<Created<CreatedToken>, ValidationProblem>> CreateTokenAsync(
        CreateTokenRequest request, HttpContext http, ApiTokenService service, TimeProvider time, IValidator<CreateTokenRequest> validator, CancellationToken ct)
    {
        var name = (request.Name ?? "").Trim();
        http.Audit().Target = $"token {Truncate(name)}";
        if (await validator.RefuseAsync(request, ct, title: "The API token cannot be issued.") is { } invalid)
        {
            return invalid;
        }

        var actor = Actor.From(http.User)!;
        var issued = await service.IssueAsync(name, request.Role, request.ExpiresAt, actor.IsUser ? actor.Name : $"token {actor.Name}", ct);
        http.Audit().Target = $"token {issued.Row.Id} ({Truncate(name)})";
        return TypedResults.Created($"/api/tokens/{issued.Row.Id}", new CreatedToken(issued.Token, Summary(issued.Row, time.GetUtcNow())));
    }

    private static void MapAudit(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/audit", async Task<Results<Ok<AuditPage>, ValidationProblem>> (
                AuditRepository audit, CancellationToken ct, [Description("1-based page, newest entries first")] int page = 1, [Description("Entries per page, 1–200")] int pageSize = 50) =>
            {
                if (page < 1 || pageSize is < 1 or > 200)
                {
                    return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["page"] = ["page starts at 1; pageSize is 1–200."] });
                }

                var (items, total) = await audit.PageAsync(page, pageSize, ct);
                return TypedResults.Ok(new AuditPage(
                    [.. items.Select(e => new AuditRecord(e.Id, e.At, e.ActorKind, e.ActorName, e.Method, e.Route, e.Target, (int)e.StatusCode, e.RemoteIp))],
                    page,
                    pageSize,
                    total));
            })
            .RequireRole(Role.Admin)
            .WithTags("Audit")
            .WithName("ListAuditEntries")
            .WithSummary("The audit log of every state-changing request: who, what, target, result, when.");
    }

    private static UserSummary Summary(UserRow user, DateTimeOffset now) => new(
        user.Id, user.Username, Roles.Parse(user.Role) ?? Role.Viewer, user.Disabled, user.LockedUntil > now, user.LastSignInAt, user.CreatedAt);

    private static ApiTokenSummary Summary(ApiTokenRow token, DateTimeOffset now) => new(
        token.Id,
        token.Name,
        token.Prefix,
        Roles.Parse(token.Role) ?? Role.Viewer,
        token.RevokedAt is not null ? TokenState.Revoked : token.ExpiresAt <= now ? TokenState.Expired : TokenState.Active,
        token.CreatedBy,
        token.CreatedAt,
        token.ExpiresAt,
        token.RevokedAt,
        token.LastUsedAt);

    private static ProblemHttpResult UserNotFound(long id) =>
        new Refusal(StatusCodes.Status404NotFound, "User not found", $"There is no user {id}.").ToProblem();
}
