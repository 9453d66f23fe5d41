using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Ctrlable.HaSim.State;

/// <summary>Who a request or WebSocket connection is authenticated as.</summary>
internal sealed record HaPrincipal(HaUser User, HaRefreshToken RefreshToken);

/// <summary>
/// Home Assistant's token scheme (auth/__init__.py, auth_store.py): access tokens are HS256 JWTs whose <c>iss</c> is the
/// refresh token's id, signed with that refresh token's <c>jwt_key</c>; deleting the refresh token kills them. Long-lived
/// access tokens are the same with a lifetime of <c>lifespan</c> days. Callers hold the runtime lock.
/// </summary>
internal static class Tokens
{
    public static string CreateAccessToken(HaRuntime ha, HaRefreshToken refresh, string? remoteIp)
    {
        var now = ha.Now;
        var index = ha.Config.RefreshTokens.FindIndex(t => t.Id == refresh.Id);
        if (index >= 0)
        {
            ha.Config.RefreshTokens[index] = refresh with { LastUsedAt = now, LastUsedIp = remoteIp };
        }

        var lifetime = refresh.TokenType == HaRefreshToken.LongLived
            ? TimeSpan.FromSeconds(refresh.AccessTokenExpiration)
            : ha.Options.AccessTokenLifetime;
        var header = Base64Url("""{"alg":"HS256","typ":"JWT"}"""u8.ToArray());
        var payload = Base64Url(Encoding.UTF8.GetBytes(new JsonObject
        {
            ["iss"] = refresh.Id,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["exp"] = (now + lifetime).ToUnixTimeSeconds(),
        }.ToJsonString()));
        var signature = Base64Url(HMACSHA256.HashData(Encoding.UTF8.GetBytes(refresh.JwtKey), Encoding.ASCII.GetBytes(header + "." + payload)));
        return $"{header}.{payload}.{signature}";
    }

    /// <summary>The principal of a valid, unexpired access token whose refresh token and user still exist and are active.</summary>
    public static HaPrincipal? Validate(HaRuntime ha, string? token)
    {
        var parts = token?.Split('.');
        if (parts is not { Length: 3 })
        {
            return null;
        }

        JsonNode? payload;
        try
        {
            payload = JsonNode.Parse(FromBase64Url(parts[1]));
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            return null;
        }

        var issuer = payload?["iss"]?.GetValue<string>();
        var refresh = ha.Config.RefreshTokens.FirstOrDefault(t => t.Id == issuer);
        if (refresh is null)
        {
            return null;
        }

        var expected = Base64Url(HMACSHA256.HashData(Encoding.UTF8.GetBytes(refresh.JwtKey), Encoding.ASCII.GetBytes(parts[0] + "." + parts[1])));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(parts[2])))
        {
            return null;
        }

        if (payload?["exp"]?.GetValue<long>() is not { } exp || ha.Now.ToUnixTimeSeconds() >= exp)
        {
            return null;
        }

        var user = ha.Config.Users.FirstOrDefault(u => u.Id == refresh.UserId);
        return user is { IsActive: true } ? new HaPrincipal(user, refresh) : null;
    }

    public static HaRefreshToken CreateRefreshToken(HaRuntime ha, HaUser user, string? clientId, string? clientName, string? clientIcon, string type, TimeSpan accessTokenLifetime, string? credentialId)
    {
        var token = new HaRefreshToken(HaConfig.NewId(), user.Id, clientId, clientName, clientIcon, type, ha.Now,
            accessTokenLifetime.TotalSeconds, HaConfig.NewSecret(), HaConfig.NewSecret(), null, null, credentialId);
        ha.Config.RefreshTokens.Add(token);
        return token;
    }

    public static string CreateAuthCode(HaRuntime ha, string clientId, HaUser user, string? credentialId)
    {
        var code = HaConfig.NewId();
        ha.AuthCodes[code] = new AuthCode(clientId, user.Id, credentialId, ha.Now + ha.Options.AuthCodeLifetime);
        return code;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string s)
    {
        var padded = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded + new string('=', (4 - (padded.Length % 4)) % 4));
    }
}
