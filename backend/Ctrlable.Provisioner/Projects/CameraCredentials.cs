using System.Text.Json;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Projects;

/// <summary>
/// Camera stream passwords (<c>rtsp://user:PASSWORD@cam/stream</c>) live encrypted in the secret store as
/// <c>project/{id}/camera/{name}</c>; projects.settings_json and every API response carry the URL with the password as
/// <c>***</c>. Only the guest's assignment (Frigate's config on first boot) gets the real URL back
/// (<see cref="RevealAsync"/>). Sending the redacted form back keeps the stored password, so GET then PUT of an
/// unchanged project works; a new password replaces it; a camera that goes away takes its secret with it.
/// </summary>
public sealed class CameraCredentials(SecretStore secrets, Database database, ILogger<CameraCredentials> logger)
{
    /// <summary>What a stored password is shown as.</summary>
    public const string Redacted = "***";

    public static string SecretName(long projectId, string camera) => $"project/{projectId}/camera/{camera.ToLowerInvariant()}";

    /// <summary>The URL with any password as <see cref="Redacted"/>; what the API may show.</summary>
    public static string Redact(string url) => StreamUrlParts.Parse(url) is { Password: not null } parts ? parts.With(Redacted) : url;

    /// <summary>The settings with every camera's password as <see cref="Redacted"/>.</summary>
    public static SiteSettings Redact(SiteSettings settings) =>
        settings with { Cameras = [.. settings.Cameras.Select(c => c with { StreamUrl = Redact(c.StreamUrl) })] };

    /// <summary>
    /// Works out what to store for a project's new settings: the settings with redacted URLs and the passwords to keep
    /// (camera name → password). <paramref name="previous"/> are the project's stored settings (null for a new project).
    /// Returns problems (field → messages, as validation errors are keyed) instead when a redacted URL has nothing to keep.
    /// </summary>
    public async Task<CameraPlan> PlanAsync(long? projectId, SiteSettings settings, SiteSettings? previous, CancellationToken ct)
    {
        var passwords = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var problems = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var cameras = new List<CameraSettings>();
        for (var i = 0; i < settings.Cameras.Count; i++)
        {
            var camera = settings.Cameras[i];
            var parts = StreamUrlParts.Parse(camera.StreamUrl);
            if (parts?.Password is not { } password)
            {
                cameras.Add(camera);
                continue;
            }

            if (password == Redacted)
            {
                password = await KeptPasswordAsync(projectId, camera, previous, ct);
                if (password is null)
                {
                    problems[$"Settings.Cameras[{i}].StreamUrl"] =
                        [$"Camera '{camera.Name}': the password shows as {Redacted} but none is stored for this camera at this address; enter it again."];
                    continue;
                }
            }

            passwords[camera.Name] = password;
            cameras.Add(camera with { StreamUrl = parts.With(Redacted) });
        }

        return new CameraPlan(settings with { Cameras = cameras }, passwords, problems);
    }

    /// <summary>Stores the plan's passwords and deletes the secrets of the project's cameras that have none now.</summary>
    public async Task SaveAsync(long projectId, CameraPlan plan, CancellationToken ct)
    {
        foreach (var (camera, password) in plan.Passwords)
        {
            await secrets.SetAsync(SecretKind.ProjectAppSecret, SecretName(projectId, camera), password, ct);
        }

        var keep = plan.Passwords.Keys.Select(camera => SecretName(projectId, camera)).ToHashSet(StringComparer.Ordinal);
        foreach (var stale in await secrets.ListAsync(SecretKind.ProjectAppSecret, SecretName(projectId, ""), ct))
        {
            if (!keep.Contains(stale.Name))
            {
                await secrets.DeleteAsync(SecretKind.ProjectAppSecret, stale.Name, ct);
            }
        }
    }

    /// <summary>The camera's URL with its stored password, for the guest's assignment only.</summary>
    public async Task<string> RevealAsync(long projectId, CameraSettings camera, CancellationToken ct)
    {
        if (StreamUrlParts.Parse(camera.StreamUrl) is not { Password: Redacted } parts)
        {
            return camera.StreamUrl; // no password, or one stored before passwords moved to the secret store
        }

        if (await secrets.GetAsync(SecretKind.ProjectAppSecret, SecretName(projectId, camera.Name), ct) is { } password)
        {
            return parts.With(password);
        }

        logger.LogWarning("No stored password for camera {Camera} of project {ProjectId}: its stream URL goes to Frigate without one", camera.Name, projectId);
        return parts.WithoutPassword();
    }

    /// <summary>
    /// Moves passwords still written in projects.settings_json (projects saved before they went to the secret store)
    /// into it; run at start. Returns how many projects changed.
    /// </summary>
    public async Task<int> MoveStoredPasswordsAsync(CancellationToken ct)
    {
        const string sql = "SELECT id AS Id, settings_json AS SettingsJson FROM projects;";
        IReadOnlyList<StoredSettings> projects;
        await using (var connection = await database.OpenAsync(ct))
        {
            projects = [.. await connection.QueryAsync<StoredSettings>(new CommandDefinition(sql, cancellationToken: ct))];
        }

        var moved = 0;
        foreach (var project in projects)
        {
            var settings = SiteSettings.FromJson(project.SettingsJson);
            if (!settings.Cameras.Any(c => StreamUrlParts.Parse(c.StreamUrl) is { Password: not null and not Redacted }))
            {
                continue;
            }

            var plan = await PlanAsync(project.Id, settings, settings, ct);
            await SaveAsync(project.Id, plan, ct);
            await SetSettingsJsonAsync(project.Id, JsonSerializer.Serialize(plan.Settings, ProjectJson.Options), ct);
            moved++;
        }

        if (moved > 0)
        {
            logger.LogInformation("Moved the camera passwords of {Count} project(s) into the encrypted secret store", moved);
        }

        return moved;
    }

    // Kept by name; a renamed camera whose URL is unchanged keeps the password of the camera it was. Only for the same
    // destination: whoever may edit a project but never saw the password must not point it at a host of their own.
    private async Task<string?> KeptPasswordAsync(long? projectId, CameraSettings camera, SiteSettings? previous, CancellationToken ct)
    {
        var destination = Destination(camera.StreamUrl);
        var candidates = (previous?.Cameras ?? [])
            .Where(old => string.Equals(old.Name, camera.Name, StringComparison.OrdinalIgnoreCase))
            .Concat((previous?.Cameras ?? []).Where(old => Redact(old.StreamUrl) == camera.StreamUrl))
            .Where(old => Destination(old.StreamUrl) == destination);
        foreach (var old in candidates)
        {
            // A password still in the stored JSON (saved before the secret store held them), else the stored secret.
            if (StreamUrlParts.Parse(old.StreamUrl) is { Password: { } inline } && inline != Redacted)
            {
                return inline;
            }

            if (projectId is { } id && await secrets.GetAsync(SecretKind.ProjectAppSecret, SecretName(id, old.Name), ct) is { } stored)
            {
                return stored;
            }
        }

        return null;
    }

    /// <summary>Where a password is sent: scheme, user, host and port (case-insensitive), the password redacted.</summary>
    private static string Destination(string url)
    {
        var redacted = Redact(url);
        var scheme = redacted.IndexOf("://", StringComparison.Ordinal);
        var end = scheme < 0 ? -1 : redacted.IndexOfAny(['/', '?', '#'], scheme + 3);
        return (end < 0 ? redacted : redacted[..end]).ToLowerInvariant();
    }

    private async Task SetSettingsJsonAsync(long projectId, string settingsJson, CancellationToken ct)
    {
        const string sql = "UPDATE projects SET settings_json = @settingsJson WHERE id = @projectId;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { projectId, settingsJson }, cancellationToken: ct));
    }

    private sealed record StoredSettings(long Id, string SettingsJson);
}

/// <summary>What to store for a project's cameras: redacted settings, passwords by camera name, or problems.</summary>
public sealed record CameraPlan(SiteSettings Settings, IReadOnlyDictionary<string, string> Passwords, IReadOnlyDictionary<string, string[]> Problems)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Cameras = {Settings.Cameras.Count}, Problems = {Problems.Count}"); // never the passwords
        return true;
    }
}

/// <summary>
/// A stream URL split around its password as ffmpeg reads it: the authority ends at the first '/', '?' or '#' after
/// "://", the user information at its last '@', the user name at the first ':'.
/// </summary>
internal sealed record StreamUrlParts(string BeforePassword, string? Password, string AfterPassword)
{
    public static StreamUrlParts? Parse(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
        {
            return null;
        }

        var authorityStart = scheme + 3;
        var authorityEnd = url.IndexOfAny(['/', '?', '#'], authorityStart);
        if (authorityEnd < 0)
        {
            authorityEnd = url.Length;
        }

        var at = url.LastIndexOf('@', authorityEnd - 1, authorityEnd - authorityStart);
        if (at < 0)
        {
            return null;
        }

        var colon = url.IndexOf(':', authorityStart, at - authorityStart);
        return colon < 0 || colon + 1 == at
            ? new StreamUrlParts(url, null, "") // a user name only, or an empty password: nothing to keep
            : new StreamUrlParts(url[..(colon + 1)], url[(colon + 1)..at], url[at..]);
    }

    public string With(string password) => BeforePassword + password + AfterPassword;

    public string WithoutPassword() => BeforePassword[..^1] + AfterPassword;

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Password = ").Append(Password is null ? "none" : CameraCredentials.Redacted);
        return true;
    }
}
