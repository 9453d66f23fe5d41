using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Auth;

public sealed record UserRow(
    long Id,
    string Username,
    string PasswordHash,
    string Role,
    bool Disabled,
    long FailedSignIns,
    DateTimeOffset? LockedUntil,
    string SecurityStamp,
    DateTimeOffset? LastSignInAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>Dealer accounts.</summary>
public sealed class UserRepository(Database database)
{
    private const string Columns = """
        id AS Id, username AS Username, password_hash AS PasswordHash, role AS Role, disabled AS Disabled,
        failed_sign_ins AS FailedSignIns, locked_until AS LockedUntil, security_stamp AS SecurityStamp,
        last_sign_in_at AS LastSignInAt, created_at AS CreatedAt, updated_at AS UpdatedAt
        """;

    public async Task<bool> AnyAsync(CancellationToken ct = default)
    {
        const string sql = "SELECT EXISTS (SELECT 1 FROM users);";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(sql, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<UserRow>> ListAsync(CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM users ORDER BY username;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<UserRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    public async Task<UserRow?> FindAsync(long id, CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM users WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(sql, new { id }, cancellationToken: ct));
    }

    public async Task<UserRow?> FindByNameAsync(string username, CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM users WHERE username = @username;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(sql, new { username }, cancellationToken: ct));
    }

    /// <summary>Inserts a user; null when the name is taken.</summary>
    public async Task<long?> InsertAsync(string username, string passwordHash, Role role, DateTimeOffset now, CancellationToken ct = default)
    {
        const string sql = """
            INSERT INTO users (username, password_hash, role, security_stamp, created_at, updated_at)
            VALUES (@username, @passwordHash, @role, @stamp, @now, @now)
            RETURNING id;
            """;
        await using var connection = await database.OpenAsync(ct);
        try
        {
            return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                sql, new { username, passwordHash, role = role.Name(), stamp = NewStamp(), now }, cancellationToken: ct));
        }
        catch (System.Data.Common.DbException ex) when (Database.IsUniqueViolation(ex))
        {
            return null;
        }
    }

    /// <summary>
    /// Inserts the first admin only while the table is empty, in one statement, so two concurrent setups
    /// cannot both succeed. Null when a user already exists.
    /// </summary>
    public async Task<long?> InsertFirstAdminAsync(string username, string passwordHash, DateTimeOffset now, CancellationToken ct = default)
    {
        const string sql = """
            INSERT INTO users (username, password_hash, role, security_stamp, created_at, updated_at)
            SELECT @username, @passwordHash, 'admin', @stamp, @now, @now
            WHERE NOT EXISTS (SELECT 1 FROM users)
            RETURNING id;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            sql, new { username, passwordHash, stamp = NewStamp(), now }, cancellationToken: ct));
    }

    public async Task RecordSuccessAsync(long id, string? rehashedPassword, DateTimeOffset now, CancellationToken ct = default)
    {
        const string sql = """
            UPDATE users SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = @now,
                             password_hash = coalesce(@rehashedPassword, password_hash)
            WHERE id = @id;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, rehashedPassword, now }, cancellationToken: ct));
    }

    /// <summary>Counts a failed sign-in and locks the account when it reaches <paramref name="threshold"/>.</summary>
    public async Task RecordFailureAsync(long id, int threshold, DateTimeOffset lockUntil, CancellationToken ct = default)
    {
        const string sql = """
            UPDATE users SET failed_sign_ins = failed_sign_ins + 1,
                             locked_until = CASE WHEN failed_sign_ins + 1 >= @threshold THEN @lockUntil ELSE locked_until END
            WHERE id = @id;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, threshold, lockUntil }, cancellationToken: ct));
    }

    /// <summary>New password: new stamp (other sessions end), lockout cleared.</summary>
    public async Task<bool> SetPasswordAsync(long id, string passwordHash, DateTimeOffset now, CancellationToken ct = default)
    {
        const string sql = """
            UPDATE users SET password_hash = @passwordHash, security_stamp = @stamp, failed_sign_ins = 0, locked_until = NULL, updated_at = @now
            WHERE id = @id;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { id, passwordHash, stamp = NewStamp(), now }, cancellationToken: ct)) > 0;
    }

    /// <summary>
    /// Changes role and disabled flag (and clears a lockout; sessions follow at their next request), unless that would leave no enabled admin.
    /// Returns false when the user does not exist or the change was refused; the caller tells them apart.
    /// </summary>
    public async Task<bool> UpdateAsync(long id, Role role, bool disabled, DateTimeOffset now, CancellationToken ct = default)
    {
        const string sql = """
            UPDATE users SET role = @role, disabled = @disabled, failed_sign_ins = 0, locked_until = NULL, updated_at = @now
            WHERE id = @id
              AND (   (@role = 'admin' AND @disabled = 0)
                   OR EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0 AND id <> @id));
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(
            sql, new { id, role = role.Name(), disabled, now }, cancellationToken: ct)) > 0;
    }

    public async Task<bool> AnyEnabledAdminAsync(CancellationToken ct = default)
    {
        const string sql = "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0);";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(sql, cancellationToken: ct));
    }

    private static string NewStamp() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
}
