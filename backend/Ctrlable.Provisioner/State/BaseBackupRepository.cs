using Dapper;

namespace Ctrlable.Provisioner.State;

/// <summary>The recorded checksum of a release's stored Home Assistant base backup.</summary>
public sealed record BaseBackupRow(string Release, string FileName, string Sha256, long SizeBytes, DateTimeOffset StoredAt);

public sealed class BaseBackupRepository(Database database)
{
    public async Task<BaseBackupRow?> GetAsync(string release, CancellationToken ct = default)
    {
        const string sql = """
            SELECT release AS Release, file_name AS FileName, sha256 AS Sha256, size_bytes AS SizeBytes, stored_at AS StoredAt
            FROM base_backups WHERE release = @release;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<BaseBackupRow>(new CommandDefinition(sql, new { release }, cancellationToken: ct));
    }

    public async Task UpsertAsync(BaseBackupRow row, CancellationToken ct = default)
    {
        const string sql = """
            INSERT INTO base_backups (release, file_name, sha256, size_bytes, stored_at)
            VALUES (@Release, @FileName, @Sha256, @SizeBytes, @StoredAt)
            ON CONFLICT (release) DO UPDATE SET file_name = excluded.file_name, sha256 = excluded.sha256,
                size_bytes = excluded.size_bytes, stored_at = excluded.stored_at;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, row, cancellationToken: ct));
    }
}
