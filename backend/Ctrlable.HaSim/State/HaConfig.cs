using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ctrlable.HaSim.State;

/// <summary>A user of <c>.storage/auth</c>. Admins are in the group <c>system-admin</c>.</summary>
public sealed record HaUser(string Id, string Name, bool IsOwner, bool IsActive, bool SystemGenerated, bool LocalOnly, IReadOnlyList<string> GroupIds)
{
    public const string AdminGroup = "system-admin";

    public bool IsAdmin => GroupIds.Contains(AdminGroup);
}

/// <summary>A credential of the <c>homeassistant</c> auth provider linking a username to a user.</summary>
public sealed record HaCredential(string Id, string UserId, string Username);

/// <summary>A refresh token of <c>.storage/auth</c>: <c>normal</c>, <c>long_lived_access_token</c> or <c>system</c>.</summary>
public sealed record HaRefreshToken(
    string Id,
    string UserId,
    string? ClientId,
    string? ClientName,
    string? ClientIcon,
    string TokenType,
    DateTimeOffset CreatedAt,
    double AccessTokenExpiration,
    string Token,
    string JwtKey,
    DateTimeOffset? LastUsedAt,
    string? LastUsedIp,
    string? CredentialId)
{
    public const string Normal = "normal";
    public const string LongLived = "long_lived_access_token";
    public const string System = "system";
}

/// <summary>An entry of <c>.storage/core.config_entries</c>.</summary>
public sealed record HaConfigEntry(string EntryId, string Domain, string Title, JsonObject Data, string Source, string? UniqueId, DateTimeOffset CreatedAt);

/// <summary>
/// What lives in Home Assistant's <c>/config</c> and survives a restart or travels in a backup: the instance UUID,
/// users, credentials and password hashes, refresh tokens, config entries, the onboarding progress, and any other
/// file (custom_components, configuration.yaml, …) kept byte for byte. Converts to and from the <c>.storage</c> JSON
/// files Home Assistant writes.
/// </summary>
public sealed class HaConfig
{
    public static readonly string[] AllSteps = ["user", "core_config", "analytics", "integration"];

    public string? CoreUuid { get; set; }

    public List<HaUser> Users { get; set; } = [];

    public List<HaCredential> Credentials { get; set; } = [];

    /// <summary>username → base64 of the bcrypt hash (as <c>.storage/auth_provider.homeassistant</c> keeps it).</summary>
    public Dictionary<string, string> Passwords { get; set; } = new(StringComparer.Ordinal);

    public List<HaRefreshToken> RefreshTokens { get; set; } = [];

    public List<HaConfigEntry> ConfigEntries { get; set; } = [];

    public List<string> OnboardingDone { get; set; } = [];

    /// <summary>Every other file under /config, by relative path.</summary>
    public SortedDictionary<string, byte[]> OtherFiles { get; set; } = new(StringComparer.Ordinal);

    public bool HasCustomComponent(string domain) => OtherFiles.Keys.Any(k => k.StartsWith($"custom_components/{domain}/", StringComparison.Ordinal));

    public HaUser? Owner => Users.FirstOrDefault(u => u.IsOwner);

    public HaConfig Clone() => FromFiles(ToFiles());

    /// <summary>The system users HAOS creates on first start (and every backup carries).</summary>
    public void AddSystemUsers(DateTimeOffset now)
    {
        foreach (var name in new[] { "Supervisor", "Home Assistant Content" })
        {
            if (Users.Any(u => u.SystemGenerated && u.Name == name))
            {
                continue;
            }

            var user = new HaUser(NewId(), name, false, true, true, false, [name == "Supervisor" ? HaUser.AdminGroup : "system-read-only"]);
            Users.Add(user);
            RefreshTokens.Add(new HaRefreshToken(NewId(), user.Id, null, null, null, HaRefreshToken.System, now, 1800, NewSecret(), NewSecret(), null, null, null));
        }
    }

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>128 hex digits, as HA's <c>secrets.token_hex(64)</c> for tokens and JWT keys.</summary>
    public static string NewSecret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(64));

    public static string HashPassword(string password, int workFactor) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(BCrypt.Net.BCrypt.HashPassword(password, workFactor)));

    public bool PasswordMatches(string username, string password)
    {
        if (!Passwords.TryGetValue(username, out var stored))
        {
            // HA hashes a dummy password to keep the timing flat; the outcome is what matters here.
            return false;
        }

        return BCrypt.Net.BCrypt.Verify(password, Encoding.UTF8.GetString(Convert.FromBase64String(stored)));
    }

    // ---- .storage files ----------------------------------------------------------------------------------

    public SortedDictionary<string, byte[]> ToFiles()
    {
        var files = new SortedDictionary<string, byte[]>(OtherFiles, StringComparer.Ordinal);
        if (CoreUuid is not null)
        {
            files[".storage/core.uuid"] = Store("core.uuid", 1, 1, new JsonObject { ["uuid"] = CoreUuid });
        }

        files[".storage/onboarding"] = Store("onboarding", 4, 1, new JsonObject { ["done"] = new JsonArray([.. OnboardingDone.Select(s => (JsonNode)s)]) });
        files[".storage/auth"] = Store("auth", 1, 1, new JsonObject
        {
            ["users"] = new JsonArray([.. Users.Select(u => (JsonNode)new JsonObject
            {
                ["id"] = u.Id,
                ["group_ids"] = new JsonArray([.. u.GroupIds.Select(g => (JsonNode)g)]),
                ["is_owner"] = u.IsOwner,
                ["is_active"] = u.IsActive,
                ["name"] = u.Name,
                ["system_generated"] = u.SystemGenerated,
                ["local_only"] = u.LocalOnly,
            })]),
            ["groups"] = new JsonArray(
                new JsonObject { ["id"] = "system-admin", ["name"] = "Administrators" },
                new JsonObject { ["id"] = "system-users", ["name"] = "Users" },
                new JsonObject { ["id"] = "system-read-only", ["name"] = "Read Only" }),
            ["credentials"] = new JsonArray([.. Credentials.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.Id,
                ["user_id"] = c.UserId,
                ["auth_provider_type"] = "homeassistant",
                ["auth_provider_id"] = null,
                ["data"] = new JsonObject { ["username"] = c.Username },
            })]),
            ["refresh_tokens"] = new JsonArray([.. RefreshTokens.Select(t => (JsonNode)new JsonObject
            {
                ["id"] = t.Id,
                ["user_id"] = t.UserId,
                ["client_id"] = t.ClientId,
                ["client_name"] = t.ClientName,
                ["client_icon"] = t.ClientIcon,
                ["token_type"] = t.TokenType,
                ["created_at"] = Iso(t.CreatedAt),
                ["access_token_expiration"] = t.AccessTokenExpiration,
                ["token"] = t.Token,
                ["jwt_key"] = t.JwtKey,
                ["last_used_at"] = t.LastUsedAt is { } used ? Iso(used) : null,
                ["last_used_ip"] = t.LastUsedIp,
                ["expire_at"] = null,
                ["credential_id"] = t.CredentialId,
                ["version"] = "2025.4.4",
            })]),
        });
        files[".storage/auth_provider.homeassistant"] = Store("auth_provider.homeassistant", 1, 1, new JsonObject
        {
            ["users"] = new JsonArray([.. Passwords.Select(p => (JsonNode)new JsonObject { ["username"] = p.Key, ["password"] = p.Value })]),
        });
        files[".storage/core.config_entries"] = Store("core.config_entries", 1, 5, new JsonObject
        {
            ["entries"] = new JsonArray([.. ConfigEntries.Select(e => (JsonNode)new JsonObject
            {
                ["created_at"] = Iso(e.CreatedAt),
                ["data"] = e.Data.DeepClone(),
                ["disabled_by"] = null,
                ["discovery_keys"] = new JsonObject(),
                ["domain"] = e.Domain,
                ["entry_id"] = e.EntryId,
                ["minor_version"] = 1,
                ["modified_at"] = Iso(e.CreatedAt),
                ["options"] = new JsonObject(),
                ["pref_disable_new_entities"] = false,
                ["pref_disable_polling"] = false,
                ["source"] = e.Source,
                ["subentries"] = new JsonArray(),
                ["title"] = e.Title,
                ["unique_id"] = e.UniqueId,
                ["version"] = 1,
            })]),
        });
        return files;
    }

    /// <summary>Reads the known <c>.storage</c> files; a missing one means "empty" (as HA starts without it).</summary>
    public static HaConfig FromFiles(IReadOnlyDictionary<string, byte[]> files)
    {
        var config = new HaConfig();
        foreach (var (path, bytes) in files)
        {
            switch (path)
            {
                case ".storage/core.uuid":
                    config.CoreUuid = Data(bytes)["uuid"]?.GetValue<string>();
                    break;
                case ".storage/onboarding":
                    config.OnboardingDone = [.. (Data(bytes)["done"]?.AsArray() ?? []).Select(n => n!.GetValue<string>())];
                    break;
                case ".storage/auth":
                    ReadAuth(config, Data(bytes));
                    break;
                case ".storage/auth_provider.homeassistant":
                    foreach (var u in Data(bytes)["users"]?.AsArray() ?? [])
                    {
                        config.Passwords[u!["username"]!.GetValue<string>()] = u["password"]!.GetValue<string>();
                    }

                    break;
                case ".storage/core.config_entries":
                    foreach (var e in Data(bytes)["entries"]?.AsArray() ?? [])
                    {
                        config.ConfigEntries.Add(new HaConfigEntry(
                            e!["entry_id"]!.GetValue<string>(),
                            e["domain"]!.GetValue<string>(),
                            e["title"]?.GetValue<string>() ?? "",
                            e["data"]?.DeepClone().AsObject() ?? [],
                            e["source"]?.GetValue<string>() ?? "user",
                            e["unique_id"]?.GetValue<string>(),
                            ParseTime(e["created_at"]) ?? DateTimeOffset.UnixEpoch));
                    }

                    break;
                default:
                    config.OtherFiles[path] = bytes;
                    break;
            }
        }

        return config;
    }

    private static void ReadAuth(HaConfig config, JsonObject data)
    {
        foreach (var u in data["users"]?.AsArray() ?? [])
        {
            config.Users.Add(new HaUser(
                u!["id"]!.GetValue<string>(),
                u["name"]?.GetValue<string>() ?? "",
                u["is_owner"]?.GetValue<bool>() ?? false,
                u["is_active"]?.GetValue<bool>() ?? true,
                u["system_generated"]?.GetValue<bool>() ?? false,
                u["local_only"]?.GetValue<bool>() ?? false,
                [.. (u["group_ids"]?.AsArray() ?? []).Select(g => g!.GetValue<string>())]));
        }

        foreach (var c in data["credentials"]?.AsArray() ?? [])
        {
            if (c!["auth_provider_type"]?.GetValue<string>() == "homeassistant")
            {
                config.Credentials.Add(new HaCredential(c["id"]!.GetValue<string>(), c["user_id"]!.GetValue<string>(), c["data"]!["username"]!.GetValue<string>()));
            }
        }

        foreach (var t in data["refresh_tokens"]?.AsArray() ?? [])
        {
            config.RefreshTokens.Add(new HaRefreshToken(
                t!["id"]!.GetValue<string>(),
                t["user_id"]!.GetValue<string>(),
                t["client_id"]?.GetValue<string>(),
                t["client_name"]?.GetValue<string>(),
                t["client_icon"]?.GetValue<string>(),
                t["token_type"]?.GetValue<string>() ?? HaRefreshToken.Normal,
                ParseTime(t["created_at"]) ?? DateTimeOffset.UnixEpoch,
                t["access_token_expiration"]?.GetValue<double>() ?? 1800,
                t["token"]!.GetValue<string>(),
                t["jwt_key"]!.GetValue<string>(),
                ParseTime(t["last_used_at"]),
                t["last_used_ip"]?.GetValue<string>(),
                t["credential_id"]?.GetValue<string>()));
        }
    }

    private static byte[] Store(string key, int version, int minor, JsonObject data) =>
        Encoding.UTF8.GetBytes(new JsonObject { ["version"] = version, ["minor_version"] = minor, ["key"] = key, ["data"] = data }
            .ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    private static JsonObject Data(byte[] bytes) =>
        JsonNode.Parse(bytes)?["data"]?.AsObject() ?? throw new InvalidDataException("a .storage file without data");

    private static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.ffffff+00:00", CultureInfo.InvariantCulture);

    private static DateTimeOffset? ParseTime(JsonNode? node) =>
        node?.GetValue<string>() is { } s ? DateTimeOffset.Parse(s, CultureInfo.InvariantCulture) : null;
}
