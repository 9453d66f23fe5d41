using System.Text.Json;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>
/// Notification targets (<c>alert_targets</c>, migration 016): the settings in the row, the secrets through
/// <see cref="SecretStore"/> (kind <see cref="SecretKind.AlertTargetSecret"/>, name <c>alert-target/&lt;id&gt;/&lt;field&gt;</c>).
/// A stored secret is only kept for the destination it was entered for: a changed URL, ntfy server or SMTP server/user
/// must bring it again (else 400 naming it), so nobody can point a target at a host of their own and receive it.
/// </summary>
public sealed class AlertTargetStore(Database database, SecretStore secrets, TimeProvider time)
{
    public const string SigningSecret = "signingSecret";
    public const string HeaderValue = "headerValue";
    public const string Token = "token";
    public const string Password = "password";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly string[] Fields = [SigningSecret, HeaderValue, Token, Password];

    public async Task<IReadOnlyList<AlertTargetView>> ListAsync(CancellationToken ct)
    {
        var rows = await RowsAsync(null, ct);
        var views = new List<AlertTargetView>();
        foreach (var row in rows)
        {
            views.Add(await ViewAsync(row, ct));
        }

        return views;
    }

    public async Task<AlertTargetView?> GetViewAsync(long id, CancellationToken ct) =>
        (await RowsAsync(id, ct)).SingleOrDefault() is { } row ? await ViewAsync(row, ct) : null;

    /// <summary>The target with its secrets (for a sender); null when there is none.</summary>
    public async Task<AlertTarget?> GetAsync(long id, CancellationToken ct)
    {
        if ((await RowsAsync(id, ct)).SingleOrDefault() is not { } row)
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var field in Fields)
        {
            if (await secrets.GetAsync(SecretKind.AlertTargetSecret, SecretName(id, field), ct) is { } value)
            {
                values[field] = value;
            }
        }

        var settings = Settings(row);
        return new AlertTarget(row.Id, row.Name, row.Kind, row.Enabled, settings.Webhook, settings.Ntfy, settings.Smtp, values);
    }

    public async Task<(AlertTargetView? Target, Refusal? Refusal)> CreateAsync(AlertTargetRequest request, CancellationToken ct)
    {
        const string sql = """
            INSERT INTO alert_targets (name, kind, enabled, settings_json, created_at, updated_at)
            VALUES (@Name, @Kind, @Enabled, @settings, @now, @now) RETURNING id;
            """;
        var now = time.GetUtcNow();
        long id;
        try
        {
            await using var connection = await database.OpenAsync(ct);
            id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, new { request.Name, request.Kind, request.Enabled, settings = SettingsJson(request), now }, cancellationToken: ct));
        }
        catch (SqliteException ex) when (Database.IsUniqueViolation(ex))
        {
            return (null, NameTaken(request.Name));
        }

        await StoreSecretsAsync(id, request.Secrets, ct);
        return (await GetViewAsync(id, ct), null);
    }

    public async Task<(AlertTargetView? Target, Refusal? Refusal)> UpdateAsync(long id, AlertTargetRequest request, CancellationToken ct)
    {
        const string sql = "UPDATE alert_targets SET name = @Name, kind = @Kind, enabled = @Enabled, settings_json = @settings, updated_at = @now WHERE id = @id;";
        if ((await RowsAsync(id, ct)).SingleOrDefault() is not { } row)
        {
            return (null, NotFound(id));
        }

        // A kept secret stays only with the destination it was entered for (and only with a target of the same kind).
        var moved = row.Kind != request.Kind || Destination(Settings(row), row.Kind) != Destination(new StoredSettings(request.Webhook, request.Ntfy, request.Smtp), request.Kind);
        if (moved)
        {
            var kept = new List<string>();
            foreach (var field in Fields.Where(f => Requested(request.Secrets, f) is null))
            {
                if ((await secrets.ListAsync(SecretKind.AlertTargetSecret, SecretName(id, field), ct)).Count > 0 && UsedBy(request.Kind, field))
                {
                    kept.Add(field);
                }
            }

            if (kept.Count > 0)
            {
                return (null, new Refusal(400, "Secret required", "The target's destination changed: enter its secret again (a stored one is only sent where it was entered for).",
                    kept.ToDictionary(f => $"Secrets.{char.ToUpperInvariant(f[0])}{f[1..]}", _ => new[] { "Enter it again for the new destination." })));
            }
        }

        try
        {
            await using var connection = await database.OpenAsync(ct);
            await connection.ExecuteAsync(new CommandDefinition(sql, new { id, request.Name, request.Kind, request.Enabled, settings = SettingsJson(request), now = time.GetUtcNow() }, cancellationToken: ct));
        }
        catch (SqliteException ex) when (Database.IsUniqueViolation(ex))
        {
            return (null, NameTaken(request.Name));
        }

        await StoreSecretsAsync(id, request.Secrets, ct);
        // Secrets another kind would use are dropped with the kind change.
        foreach (var field in Fields.Where(f => !UsedBy(request.Kind, f)))
        {
            await secrets.DeleteAsync(SecretKind.AlertTargetSecret, SecretName(id, field), ct);
        }

        return (await GetViewAsync(id, ct), null);
    }

    /// <summary>Deletes the target, its secrets and what it was still owed; false when there is none.</summary>
    public async Task<bool> DeleteAsync(long id, CancellationToken ct)
    {
        const string sql = "DELETE FROM alert_targets WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        var deleted = await connection.ExecuteAsync(new CommandDefinition(sql, new { id }, cancellationToken: ct)) > 0;
        foreach (var field in Fields)
        {
            await secrets.DeleteAsync(SecretKind.AlertTargetSecret, SecretName(id, field), ct);
        }

        return deleted;
    }

    public static Refusal NotFound(long id) => new(404, "Target not found", $"There is no notification target {id}.");

    private static Refusal NameTaken(string name) => new(409, "Name taken", $"A notification target named '{name}' exists already.",
        new Dictionary<string, string[]> { ["name"] = ["Another target has this name."] });

    private async Task StoreSecretsAsync(long id, AlertTargetSecrets? requested, CancellationToken ct)
    {
        foreach (var field in Fields)
        {
            switch (Requested(requested, field))
            {
                case null:
                    break;
                case "":
                    await secrets.DeleteAsync(SecretKind.AlertTargetSecret, SecretName(id, field), ct);
                    break;
                case var value:
                    await secrets.SetAsync(SecretKind.AlertTargetSecret, SecretName(id, field), value, ct);
                    break;
            }
        }
    }

    private async Task<AlertTargetView> ViewAsync(TargetRow row, CancellationToken ct)
    {
        var stored = (await secrets.ListAsync(SecretKind.AlertTargetSecret, $"alert-target/{row.Id}/", ct)).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        bool Has(string field) => stored.Contains(SecretName(row.Id, field));
        var settings = Settings(row);
        return new AlertTargetView(row.Id, row.Name, row.Kind, row.Enabled, settings.Webhook, settings.Ntfy, settings.Smtp,
            new AlertTargetSecretsStored(Has(SigningSecret), Has(HeaderValue), Has(Token), Has(Password)), row.CreatedAt, row.UpdatedAt);
    }

    private async Task<IReadOnlyList<TargetRow>> RowsAsync(long? id, CancellationToken ct)
    {
        const string sql = """
            SELECT id AS Id, name AS Name, kind AS Kind, enabled AS Enabled, settings_json AS SettingsJson, created_at AS CreatedAt, updated_at AS UpdatedAt
            FROM alert_targets WHERE @id IS NULL OR id = @id ORDER BY name;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<TargetRow>(new CommandDefinition(sql, new { id }, cancellationToken: ct))];
    }

    private static string SecretName(long id, string field) => $"alert-target/{id}/{field}";

    private static string? Requested(AlertTargetSecrets? secrets, string field) => field switch
    {
        SigningSecret => secrets?.SigningSecret,
        HeaderValue => secrets?.HeaderValue,
        Token => secrets?.Token,
        _ => secrets?.Password,
    };

    private static bool UsedBy(string kind, string field) => (kind, field) switch
    {
        (AlertTargetKinds.Webhook, SigningSecret or HeaderValue) => true,
        (AlertTargetKinds.Ntfy, Token) => true,
        (AlertTargetKinds.Smtp, Password) => true,
        _ => false,
    };

    /// <summary>Where a target's secrets go: a change here needs them entered again.</summary>
    private static string Destination(StoredSettings settings, string kind) => kind switch
    {
        AlertTargetKinds.Webhook => $"{settings.Webhook?.Url}|{settings.Webhook?.HeaderName}",
        AlertTargetKinds.Ntfy => $"{settings.Ntfy?.Server}",
        _ => $"{settings.Smtp?.Host}|{settings.Smtp?.Port}|{settings.Smtp?.Username}|{settings.Smtp?.CaCertificatePem}",
    };

    private static string SettingsJson(AlertTargetRequest request) => JsonSerializer.Serialize(request.Kind switch
    {
        AlertTargetKinds.Webhook => new StoredSettings(request.Webhook, null, null),
        AlertTargetKinds.Ntfy => new StoredSettings(null, request.Ntfy, null),
        _ => new StoredSettings(null, null, request.Smtp),
    }, Json);

    private static StoredSettings Settings(TargetRow row) => JsonSerializer.Deserialize<StoredSettings>(row.SettingsJson, Json) ?? new StoredSettings(null, null, null);

    private sealed record StoredSettings(WebhookSettings? Webhook, NtfySettings? Ntfy, SmtpSettings? Smtp);

    private sealed record TargetRow(long Id, string Name, string Kind, bool Enabled, string SettingsJson, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
}
