using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Auth;

/// <summary>A new token: the secret (shown once) and its stored description.</summary>
public sealed record IssuedToken(string Token, ApiTokenRow Row);

/// <summary>
/// Integrator API tokens: <c>ctp_</c> + 32 random bytes (base64url). Only the SHA-256 of a token is stored; it
/// has 256 bits of entropy, so a plain hash is as good as a slow one and keeps every request cheap.
/// </summary>
public sealed class ApiTokenService(ApiTokenRepository tokens, TimeProvider time, ILogger<ApiTokenService> logger)
{
    public const string TokenPrefix = "ctp_";

    public async Task<IssuedToken> IssueAsync(string name, Role role, DateTimeOffset? expiresAt, string createdBy, CancellationToken ct)
    {
        var token = TokenPrefix + WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var id = await tokens.InsertAsync(name, token[..12], Hash(token), role, createdBy, time.GetUtcNow(), expiresAt, ct);
        logger.LogInformation("API token {TokenId} ({Name}, {Role}) issued by {CreatedBy}", id, name, role.Name(), createdBy);
        return new IssuedToken(token, (await tokens.FindAsync(id, ct))!);
    }

    /// <summary>The token's row when it exists, is not revoked and has not expired; else null.</summary>
    public async Task<ApiTokenRow?> ValidateAsync(string token, CancellationToken ct)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 100)
        {
            return null;
        }

        var row = await tokens.FindByHashAsync(Hash(token), ct);
        var now = time.GetUtcNow();
        if (row is null || row.RevokedAt is not null || row.ExpiresAt <= now)
        {
            return null;
        }

        await tokens.TouchAsync(row.Id, now, ct);
        return row;
    }

    public async Task<bool> RevokeAsync(long id, CancellationToken ct)
    {
        var done = await tokens.RevokeAsync(id, time.GetUtcNow(), ct);
        if (done)
        {
            logger.LogInformation("API token {TokenId} revoked", id);
        }

        return done;
    }

    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}

/// <summary>The API token scheme's options: which bearer credentials are not API tokens at all.</summary>
public sealed class ApiTokenSchemeOptions : AuthenticationSchemeOptions
{
    /// <summary>
    /// Prefixes of bearer credentials other features issue and read themselves (a build's <c>ctb_</c> ticket): the
    /// API token handler leaves them alone. The issuing feature adds its prefix, so Auth knows no feature.
    /// </summary>
    public List<string> OtherBearerPrefixes { get; } = [];
}

/// <summary><c>Authorization: Bearer ctp_...</c> → the token's principal (name, role, kind "token").</summary>
public sealed class ApiTokenAuthenticationHandler(
    IOptionsMonitor<ApiTokenSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiTokenService tokens)
    : AuthenticationHandler<ApiTokenSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiToken";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // Another feature's credentials (a build ticket) are not API tokens: only that feature's endpoints read them.
        if (BearerToken(Request) is not { } token || Options.OtherBearerPrefixes.Exists(p => token.StartsWith(p, StringComparison.Ordinal)))
        {
            return AuthenticateResult.NoResult();
        }

        if (await tokens.ValidateAsync(token, Context.RequestAborted) is not { } row)
        {
            return AuthenticateResult.Fail("Unknown, revoked or expired API token.");
        }

        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, row.Id.ToString(CultureInfo.InvariantCulture)),
                new Claim(ClaimTypes.Name, row.Name),
                new Claim(ClaimTypes.Role, row.Role),
                new Claim(ActorClaims.Kind, ActorClaims.TokenKind),
            ],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        return Task.CompletedTask;
    }

    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }
}
