using System.Security.Claims;

namespace Ctrlable.Provisioner.Auth;

/// <summary>What a dealer account or an API token may do. Each role includes the ones below it.</summary>
public enum Role
{
    /// <summary>Read everything (dashboard, releases, instances).</summary>
    Viewer = 1,

    /// <summary>Also deploy, lifecycle actions and release builds.</summary>
    Operator = 2,

    /// <summary>Also users, API tokens and settings.</summary>
    Admin = 3,
}

public static class Roles
{
    public static string Name(this Role role) => role switch
    {
        Role.Viewer => "viewer",
        Role.Operator => "operator",
        Role.Admin => "admin",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    public static Role? Parse(string? name) => name switch
    {
        "viewer" => Role.Viewer,
        "operator" => Role.Operator,
        "admin" => Role.Admin,
        _ => null,
    };

    /// <summary>The role names that satisfy <paramref name="role"/>: itself and every role above it.</summary>
    public static string[] AtLeast(Role role) =>
        [.. Enum.GetValues<Role>().Where(r => r >= role).Select(r => r.Name())];
}

/// <summary>The three authorization policies; hierarchical, so admin ⊇ operator ⊇ viewer.</summary>
public static class AuthPolicies
{
    public const string RequireViewer = nameof(RequireViewer);
    public const string RequireOperator = nameof(RequireOperator);
    public const string RequireAdmin = nameof(RequireAdmin);

    public static string For(Role role) => role switch
    {
        Role.Viewer => RequireViewer,
        Role.Operator => RequireOperator,
        Role.Admin => RequireAdmin,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };
}

/// <summary>
/// Endpoint metadata naming the role an endpoint needs. The OpenAPI document and the auth matrix test read
/// it; <see cref="AccessConventions.RequireRole{TBuilder}"/> adds it together with the matching policy.
/// </summary>
public sealed record RequiredRoleMetadata(Role Role);

public static class AccessConventions
{
    /// <summary>
    /// The one way an endpoint (or group) declares who may call it. Endpoints that must be reachable
    /// without credentials say <c>.AllowAnonymous()</c> instead; anything else is refused by the fallback policy.
    /// </summary>
    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, Role role)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(AuthPolicies.For(role)).WithMetadata(new RequiredRoleMetadata(role));

    /// <summary>The strictest role declared on an endpoint (group and endpoint conventions both apply).</summary>
    public static Role? RequiredRole(this Endpoint endpoint) =>
        endpoint.Metadata.GetOrderedMetadata<RequiredRoleMetadata>() is { Count: > 0 } roles ? roles.Max(r => r.Role) : null;
}

/// <summary>Claims the orchestrator puts on a signed-in user or an API token.</summary>
public static class ActorClaims
{
    /// <summary>"user" or "token".</summary>
    public const string Kind = "ctrlable:actor-kind";

    /// <summary>The user's security stamp at sign-in; a session with an old stamp is rejected.</summary>
    public const string SecurityStamp = "ctrlable:stamp";

    public const string UserKind = "user";
    public const string TokenKind = "token";
}

/// <summary>Who is calling, read from the authenticated principal.</summary>
public sealed record Actor(string Kind, long Id, string Name, Role Role)
{
    public static Actor? From(ClaimsPrincipal principal)
    {
        if (principal.Identity is not { IsAuthenticated: true }
            || principal.FindFirstValue(ActorClaims.Kind) is not { } kind
            || !long.TryParse(principal.FindFirstValue(ClaimTypes.NameIdentifier), out var id)
            || principal.FindFirstValue(ClaimTypes.Name) is not { } name
            || Roles.Parse(principal.FindFirstValue(ClaimTypes.Role)) is not { } role)
        {
            return null;
        }

        return new Actor(kind, id, name, role);
    }

    public bool IsUser => Kind == ActorClaims.UserKind;
}
