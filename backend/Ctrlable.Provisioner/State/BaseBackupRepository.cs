using Dapper;

namespace Ctrlable.Provisioner.State;

/// <summary>The recorded checksum of a release's stored Home Assistant base backup, and what its check found (migration 013).</summary>
public sealed record BaseBackupRow(
    string Release,
    string FileName,
    string Sha256,
    long SizeBytes,
    DateTimeOffset StoredAt,
    string? AdminUsername = null,
    bool Encrypted = false,
    string? HomeAssistantVersion = null,
    string? StoredBy = null);

public sealed class BaseBackupRepository(Database database)
{
    public async Task<BaseBackupRow?> GetAsync(string release, CancellationToken ct = default)
    {
        const string sql = """
            SELECT release AS Release, file_name AS FileName, sha256 AS Sha256, size_bytes AS SizeBytes, stored_at AS StoredAt,
                   admin_username AS AdminUsername, encrypted AS Encrypted, home_assistant_version AS HomeAssistantVersion, stored_by AS StoredBy
            FROM base_backups WHERE release = @release;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<BaseBackupRow>(new CommandDefinition(sql, new { release }, cancellationToken: ct));
    }

    /// <summary>
    /// Records <paramref name="row"/> and the release's encrypted credentials and runs <paramref name="moveFile"/> (which puts
    /// the verified file in place) in one write transaction: BEGIN IMMEDIATE serialises it against any other writer, also
    /// another process (the command line beside the service), so the file, its checksum and its credentials always belong
    /// together. A failing move rolls the records back.
    /// </summary>
    public async Task ReplaceAsync(BaseBackupRow row, string secretKind, string secretName, string protectedCredentials, Action moveFile, CancellationToken ct = default)
    {
        const string sql = """
            INSERT INTO base_backups (release, file_name, sha256, size_bytes, stored_at, admin_username, encrypted, home_assistant_version, stored_by)
            VALUES (@Release, @FileName, @Sha256, @SizeBytes, @StoredAt, @AdminUsername, @Encrypted, @HomeAssistantVersion, @StoredBy)
            ON CONFLICT (release) DO UPDATE SET file_name = excluded.file_name, sha256 = excluded.sha256, size_bytes = excluded.size_bytes,
                stored_at = excluded.stored_at, admin_username = excluded.admin_username, encrypted = excluded.encrypted,
                home_assistant_version = excluded.home_assistant_version, stored_by = excluded.stored_by;
            INSERT INTO secrets (kind, name, protected_value, updated_at) VALUES (@secretKind, @secretName, @protectedCredentials, @StoredAt)
            ON CONFLICT (kind, name) DO UPDATE SET protected_value = excluded.protected_value, updated_at = excluded.updated_at;
            """;
        await using var connection = await database.OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            row.Release,
            row.FileName,
            row.Sha256,
            row.SizeBytes,
            row.StoredAt,
            row.AdminUsername,
            row.Encrypted,
            row.HomeAssistantVersion,
            row.StoredBy,
            secretKind,
            secretName,
            protectedCredentials,
        }, transaction, cancellationToken: ct));
        moveFile();
        await transaction.CommitAsync(ct);
    }
}
