using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Auth;

public sealed record ApiTokenRow(
    long Id,
    string Name,
    string Prefix,
    string Role,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt);

/// <summary>Integrator API tokens, stored only as SHA-256 hashes.</summary>
public sealed class ApiTokenRepository(Database database)
{
    private const string Columns = """
        id AS Id, name AS Name, prefix AS Prefix, role AS Role, created_by AS CreatedBy, created_at AS CreatedAt,
        expires_at AS ExpiresAt, revoked_at AS RevokedAt, last_used_at AS LastUsedAt
        """;

    public async Task<IReadOnlyList<ApiTokenRow>> ListAsync(CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM api_tokens ORDER BY id DESC;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<ApiTokenRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    public async Task<ApiTokenRow?> FindAsync(long id, CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM api_tokens WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<ApiTokenRow>(new CommandDefinition(sql, new { id }, cancellationToken: ct));
    }

    public async Task<ApiTokenRow?> FindByHashAsync(string tokenHash, CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM api_tokens WHERE token_hash = @tokenHash;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<ApiTokenRow>(new CommandDefinition(sql, new { tokenHash }, cancellationToken: ct));
    }

    public async Task<long> InsertAsync(string name, string prefix, string tokenHash, Role role, string createdBy, DateTimeOffset now, DateTimeOffset? expiresAt, CancellationToken ct = default)
    {
        const string sql = """
            INSERT INTO api_tokens (name, prefix, token_hash, role, created_by, created_at, expires_at)
            VALUES (@name, @prefix, @tokenHash, @role, @createdBy, @now, @expiresAt)
            RETURNING id;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            sql, new { name, prefix, tokenHash, role = role.Name(), createdBy, now, expiresAt }, cancellationToken: ct));
    }

    /// <summary>Revokes a token; false when there is no such token. Revoking twice keeps the first time.</summary>
    public async Task<bool> RevokeAsync(long id, DateTimeOffset now, CancellationToken ct = default)
    {
        const string sql = "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, @now) WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now }, cancellationToken: ct)) > 0;
    }

    /// <summary>Notes a use, at most once a minute per token, so reads do not turn into a write each.</summary>
    public async Task TouchAsync(long id, DateTimeOffset now, CancellationToken ct = default)
    {
        const string sql = "UPDATE api_tokens SET last_used_at = @now WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @threshold);";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now, threshold = now.AddMinutes(-1) }, cancellationToken: ct));
    }
}
