using Dapper;
using Database = Ctrlable.Provisioner.State.Database;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>
/// Stops the orchestrator was asked for (<c>guest_stop_requests</c>, migration 016): a guest stopped this way is expected,
/// so no "stopped unexpectedly" alert. Recorded before the stop is sent (a crash in between leaves it recorded: a
/// missed alert, never a false one); a start or reboot through the orchestrator clears it.
/// </summary>
public sealed class GuestStopRequests(Database database, TimeProvider time)
{
    public async Task RecordAsync(long instanceId, string? requestedBy, CancellationToken ct)
    {
        const string sql = """
            INSERT INTO guest_stop_requests (instance_id, requested_at, requested_by) VALUES (@instanceId, @now, @requestedBy)
            ON CONFLICT (instance_id) DO UPDATE SET requested_at = excluded.requested_at, requested_by = excluded.requested_by;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { instanceId, now = time.GetUtcNow(), requestedBy }, cancellationToken: ct));
    }

    public async Task ClearAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "DELETE FROM guest_stop_requests WHERE instance_id = @instanceId;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { instanceId }, cancellationToken: ct));
    }

    /// <summary>Instance → when its stop was asked for.</summary>
    public async Task<IReadOnlyDictionary<long, DateTimeOffset>> ListAsync(CancellationToken ct)
    {
        const string sql = "SELECT instance_id AS InstanceId, requested_at AS RequestedAt FROM guest_stop_requests;";
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<StopRow>(new CommandDefinition(sql, cancellationToken: ct));
        return rows.ToDictionary(r => r.InstanceId, r => r.RequestedAt);
    }

    private sealed record StopRow(long InstanceId, DateTimeOffset RequestedAt);
}
