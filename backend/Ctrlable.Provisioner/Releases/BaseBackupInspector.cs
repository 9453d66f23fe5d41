using System.Formats.Tar;
using System.Text.Json.Nodes;
using static Ctrlable.Provisioner.Releases.BaseBackupCoreReader;

namespace Ctrlable.Provisioner.Releases;

/// <summary>What a release's deploy flow needs from its base backup beyond what every release needs.</summary>
/// <param name="Frigate">The release has a frigate template: Home Assistant's wiring runs the Frigate integration's config flow.</param>
public sealed record BaseBackupNeeds(bool Frigate);

/// <summary>What <see cref="BaseBackupInspector"/> found: every problem (empty = usable) and what the release records about it.</summary>
public sealed record BaseBackupInspection(IReadOnlyList<string> Errors, string? AdminUsername, bool Encrypted, string? HomeAssistantVersion);

/// <summary>
/// Opens a Supervisor backup (an outer tar of <c>backup.json</c> and one tar.gz per part; Home Assistant's
/// <c>homeassistant.tar.gz</c>, SecureTar-encrypted when protected, holds /config under <c>data/</c>) and checks what the
/// deploy flow (SPEC §7e) relies on: the owner it restores and signs in as, with the password given, and no second factor;
/// onboarding finished (the restore must come back onboarded); the Mosquitto add-on (the site's MQTT broker); the Frigate
/// integration when the release deploys Frigate; and no MQTT, Z-Wave JS or Frigate entry of the reference system (MQTT
/// allows one entry, so the site's broker would never be set), nor a HACS entry (it holds the back office's GitHub
/// token). Every problem is reported, not the first only. The archive
/// is streamed: nothing but the few small JSON files read is held in memory.
/// </summary>
public static class BaseBackupInspector
{
    /// <summary>Supervisor's slug of the Mosquitto broker add-on, which the wiring gives the project's MQTT user.</summary>
    public const string MosquittoAddon = "core_mosquitto";

    // The onboarding steps every Home Assistant version has (analytics came and went).
    private static readonly string[] OnboardingSteps = ["user", "core_config", "integration"];

    public static async Task<BaseBackupInspection> InspectAsync(string path, BaseBackupNeeds needs, string adminPassword, string? backupPassword, CancellationToken ct)
    {
        var errors = new List<string>();
        var parts = new HashSet<string>(StringComparer.Ordinal);
        JsonObject? backupJson = null;
        var backupJsonBroken = false;
        Core? core = null;
        var encrypted = false;
        await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
        {
            try
            {
                var reader = new TarReader(file, leaveOpen: true);
                while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is not { } data)
                    {
                        continue;
                    }

                    var name = Normalise(entry.Name);
                    parts.Add(name);
                    if (name == "backup.json")
                    {
                        backupJson = await ReadJsonAsync(data, entry.Length, ct);
                        backupJsonBroken = backupJson is null;
                    }
                    else if (name == CorePart)
                    {
                        (encrypted, core) = await ReadCoreAsync(data, backupPassword, errors, ct);
                    }
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException)
            {
                return new BaseBackupInspection(
                    ["The file is not a Home Assistant backup: it is not a tar archive. Download the backup from Home Assistant (Settings → System → Backups) and upload that file as it is."],
                    null, false, null);
            }
        }

        if (backupJson is null)
        {
            return new BaseBackupInspection(
                [backupJsonBroken
                    ? "The backup's backup.json is not a JSON object: the archive is damaged."
                    : "The archive has no backup.json: it is not a Home Assistant (Supervisor) backup. Make a full backup on the reference Home Assistant and upload the file it downloads."],
                null, false, null);
        }

        var version = backupJson["homeassistant"] is JsonObject homeAssistant ? homeAssistant["version"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null : null;
        if (backupJson["homeassistant"] is not JsonObject)
        {
            errors.Insert(0, "The backup does not include Home Assistant itself (backup.json has no homeassistant part): make a full backup.");
        }
        else if (!parts.Contains(CorePart))
        {
            errors.Insert(0, $"The backup has no {CorePart} (Home Assistant's configuration): make a full backup with compression on (the default).");
        }

        CheckMosquitto(backupJson, parts, errors);
        if (core is not null)
        {
            var admin = CheckOwner(core, adminPassword, errors);
            CheckOnboarding(core, errors);
            CheckIntegrations(core, needs, errors);
            return new BaseBackupInspection(errors, admin, encrypted, version);
        }

        return new BaseBackupInspection(errors, null, encrypted || backupJson["protected"] is JsonValue p && p.TryGetValue<bool>(out var isProtected) && isProtected, version);
    }

    private static void CheckMosquitto(JsonObject backupJson, HashSet<string> parts, List<string> errors)
    {
        var slugs = backupJson["addons"] is JsonArray addons
            ? addons.Select(a => a is JsonObject o && o["slug"] is JsonValue slug && slug.TryGetValue<string>(out var text) ? text : null).OfType<string>().ToHashSet(StringComparer.Ordinal)
            : [];
        if (!slugs.Contains(MosquittoAddon))
        {
            errors.Add($"The backup does not include the Mosquitto broker add-on ({MosquittoAddon}), the site's MQTT broker the deploy configures: install it on the reference Home Assistant (Settings → Add-ons → Add-on store → Mosquitto broker), start it once, and include it in the backup.");
        }
        else if (!parts.Contains($"{MosquittoAddon}.tar.gz") && !parts.Contains($"{MosquittoAddon}.tar"))
        {
            errors.Add($"backup.json lists the Mosquitto broker add-on but the archive has no {MosquittoAddon}.tar.gz: the backup is incomplete.");
        }
    }

    /// <summary>The owner the restore brings back: the deploy signs in as it with the base password and needs no second factor.</summary>
    private static string? CheckOwner(Core core, string password, List<string> errors)
    {
        if (Data(core, AuthStorage) is not { } auth)
        {
            errors.Add("Home Assistant's configuration in the backup has no user accounts (.storage/auth is missing or unreadable): make the backup after onboarding, signed in as the owner.");
            return null;
        }

        var owner = Objects(auth["users"]).FirstOrDefault(u => Bool(u["is_owner"]) == true && Bool(u["system_generated"]) != true);
        if (owner is null || Text(owner["id"]) is not { } ownerId)
        {
            errors.Add("The backup has no owner account (.storage/auth): the deploy signs in as Home Assistant's owner, the account onboarding created.");
            return null;
        }

        if (Bool(owner["is_active"]) == false)
        {
            errors.Add("Home Assistant's owner account is deactivated in the backup: activate it before making the backup (the deploy signs in as the owner).");
        }

        foreach (var (file, what) in new[] { (Totp, "an authenticator app (TOTP)"), (Notify, "notifications") })
        {
            if (Data(core, file)?["users"] is { } users && HasUser(users, ownerId))
            {
                errors.Add($"Home Assistant's owner has two-factor authentication with {what}; the deploy's sign-in cannot answer it: turn it off in the owner's profile before making the backup.");
            }
        }

        var credential = Objects(auth["credentials"]).FirstOrDefault(c => Text(c["user_id"]) == ownerId && Text(c["auth_provider_type"]) == "homeassistant");
        if (credential?["data"] is not JsonObject data || Text(data["username"]) is not { Length: > 0 } username)
        {
            errors.Add("Home Assistant's owner has no user name and password (no credential of the 'homeassistant' provider): the deploy signs in with them.");
            return null;
        }

        var hash = Objects(Data(core, AuthProvider)?["users"])
            .FirstOrDefault(u => Text(u["username"]) is { } name && NormaliseUsername(name) == NormaliseUsername(username))?["password"];
        if (Text(hash) is not { } stored)
        {
            errors.Add($"The backup has no password for Home Assistant's owner '{username}' (.storage/auth_provider.homeassistant): the backup is incomplete.");
        }
        else if (string.IsNullOrEmpty(password))
        {
            errors.Add($"Give the password of Home Assistant's owner '{username}' with the backup: the deploy signs in with it.");
        }
        else if (!PasswordMatches(password, stored))
        {
            errors.Add($"The password given is not the password of Home Assistant's owner '{username}' in this backup: the deploy could not sign in with it.");
        }

        return username;
    }

    private static void CheckOnboarding(Core core, List<string> errors)
    {
        var done = Data(core, Onboarding)?["done"] is JsonArray steps ? steps.Select(Text).OfType<string>().ToHashSet(StringComparer.Ordinal) : [];
        var missing = OnboardingSteps.Where(step => !done.Contains(step)).ToList();
        if (missing.Count > 0)
        {
            errors.Add($"Home Assistant's onboarding is not finished in the backup (steps not done: {string.Join(", ", missing)}): finish onboarding on the reference Home Assistant before making the backup.");
        }
    }

    private static void CheckIntegrations(Core core, BaseBackupNeeds needs, List<string> errors)
    {
        if (needs.Frigate && !core.FrigateIntegration)
        {
            errors.Add("The release deploys Frigate, but the backup has no Frigate integration (custom_components/frigate in Home Assistant's configuration): install the Frigate integration (blakeblackshear/frigate-hass-integration, through HACS) on the reference Home Assistant and restart it before making the backup.");
        }

        foreach (var entry in Objects(Data(core, ConfigEntries)?["entries"]))
        {
            var title = Text(entry["title"]) is { Length: > 0 } t ? $" ('{t}')" : "";
            switch (Text(entry["domain"]))
            {
                case "mqtt":
                    errors.Add($"The backup has an MQTT integration entry{title}: the deploy sets up MQTT for each site and Home Assistant allows only one, so the site's broker would never be used. Delete the MQTT integration (do not confirm the Mosquitto discovery) on the reference Home Assistant before making the backup.");
                    break;
                case "zwave_js":
                    errors.Add($"The backup has a Z-Wave JS integration entry{title}, which points at the reference system: the deploy adds the site's. Delete it on the reference Home Assistant before making the backup.");
                    break;
                case "frigate":
                    errors.Add($"The backup has a Frigate integration entry{title}, which points at the reference system: the deploy adds the site's. Delete the entry (keep the integration installed) before making the backup.");
                    break;
                case "hacs":
                    errors.Add($"The backup has a HACS integration entry{title}, which holds the GitHub token HACS was authorised with: every site would carry it. Delete the HACS integration (the integrations it installed stay) before making the backup.");
                    break;
            }
        }
    }

    /// <summary>Home Assistant's check: bcrypt over the UTF-8 password, the hash stored base64-encoded.</summary>
    private static bool PasswordMatches(string password, string stored)
    {
        try
        {
            return BCrypt.Net.BCrypt.Verify(password, System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(stored)));
        }
        catch (Exception ex) when (ex is FormatException or BCrypt.Net.SaltParseException or ArgumentException)
        {
            return false;
        }
    }

    private static JsonObject? Data(Core core, string file) => core.Files.GetValueOrDefault(file)?["data"] as JsonObject;

    private static IEnumerable<JsonObject> Objects(JsonNode? node) => node is JsonArray array ? array.OfType<JsonObject>() : [];

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static bool? Bool(JsonNode? node) => node is JsonValue value && value.TryGetValue<bool>(out var flag) ? flag : null;

    /// <summary>Two-factor settings are kept per user id: a map (current) or a list of objects with <c>user_id</c>.</summary>
    private static bool HasUser(JsonNode users, string userId) => users switch
    {
        JsonObject map => map.ContainsKey(userId),
        JsonArray list => list.OfType<JsonObject>().Any(u => Text(u["user_id"]) == userId),
        _ => false,
    };

    /// <summary>Home Assistant compares user names trimmed and case-folded.</summary>
    private static string NormaliseUsername(string name) => name.Trim().ToLowerInvariant();
}
