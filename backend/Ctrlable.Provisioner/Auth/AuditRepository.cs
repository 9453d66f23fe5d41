using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Auth;

public sealed record AuditEntry(
    long Id,
    DateTimeOffset At,
    string ActorKind,
    string? ActorName,
    string Method,
    string Route,
    string? Target,
    long StatusCode,
    string? RemoteIp);

/// <summary>The append-only audit log of state-changing requests.</summary>
public sealed class AuditRepository(Database database)
{
    public async Task AppendAsync(AuditEntry entry, CancellationToken ct = default)
    {
        const string sql = """
            INSERT INTO audit_log (at, actor_kind, actor_name, method, route, target, status_code, remote_ip)
            VALUES (@At, @ActorKind, @ActorName, @Method, @Route, @Target, @StatusCode, @RemoteIp);
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, entry, cancellationToken: ct));
    }

    /// <summary>Newest first.</summary>
    public async Task<(IReadOnlyList<AuditEntry> Items, long Total)> PageAsync(int page, int pageSize, CancellationToken ct = default)
    {
        const string sql = """
            SELECT id AS Id, at AS At, actor_kind AS ActorKind, actor_name AS ActorName, method AS Method, route AS Route,
                   target AS Target, status_code AS StatusCode, remote_ip AS RemoteIp
            FROM audit_log ORDER BY id DESC LIMIT @pageSize OFFSET @offset;
            SELECT count(*) FROM audit_log;
            """;
        await using var connection = await database.OpenAsync(ct);
        await using var grid = await connection.QueryMultipleAsync(new CommandDefinition(
            sql, new { pageSize, offset = (long)(page - 1) * pageSize }, cancellationToken: ct));
        var items = (await grid.ReadAsync<AuditEntry>()).ToList();
        var total = await grid.ReadSingleAsync<long>();
        return (items, total);
    }

    /// <summary>Deletes entries older than <paramref name="before"/>; returns how many.</summary>
    public async Task<int> DeleteOlderThanAsync(DateTimeOffset before, CancellationToken ct = default)
    {
        const string sql = "DELETE FROM audit_log WHERE at < @before;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { before = before.ToUniversalTime() }, cancellationToken: ct));
    }
}
