using Dapper;
using Database = Ctrlable.Provisioner.State.Database;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>A notification owed to a target, with the incident it is about.</summary>
public sealed record OwedNotification(
    long Id, long TargetId, string State, long Attempts, long IncidentId, string Kind, string Subject, string Severity, string Title, string Detail,
    long? ProjectId, string? ProjectName, long? InstanceId, string? InstanceName, string? LinkPath, DateTimeOffset OpenedAt, DateTimeOffset? ResolvedAt,
    string? ResolvedDetail);

/// <summary><c>alert_outbox</c> and <c>alert_deliveries</c> (migration 016): what each target is owed and what it took.</summary>
public sealed class AlertOutbox(Database database)
{
    /// <summary>Targets that are owed a notification due by <paramref name="now"/>.</summary>
    public async Task<IReadOnlyList<long>> TargetsDueAsync(DateTimeOffset now, CancellationToken ct)
    {
        const string sql = """
            SELECT DISTINCT o.target_id FROM alert_outbox o JOIN alert_targets t ON t.id = o.target_id
            WHERE o.sent_at IS NULL AND o.given_up_at IS NULL AND o.next_attempt_at <= @now AND t.enabled = 1 ORDER BY o.target_id;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<long>(new CommandDefinition(sql, new { now }, cancellationToken: ct))];
    }

    /// <summary>
    /// What <paramref name="targetId"/> is owed and due, oldest first. A "resolved" waits while the same target is still
    /// owed the incident's "open" (one in back-off), so a target never hears of the end before the start.
    /// </summary>
    public async Task<IReadOnlyList<OwedNotification>> DueAsync(long targetId, DateTimeOffset now, CancellationToken ct)
    {
        const string sql = """
            SELECT o.id AS Id, o.target_id AS TargetId, o.state AS State, o.attempts AS Attempts, i.id AS IncidentId, i.kind AS Kind, i.subject AS Subject,
                   i.severity AS Severity, i.title AS Title, i.detail AS Detail, i.project_id AS ProjectId, i.project_name AS ProjectName,
                   i.instance_id AS InstanceId, i.instance_name AS InstanceName, i.link_path AS LinkPath, i.opened_at AS OpenedAt,
                   i.resolved_at AS ResolvedAt, i.resolved_detail AS ResolvedDetail
            FROM alert_outbox o JOIN alert_incidents i ON i.id = o.incident_id
            WHERE o.target_id = @targetId AND o.sent_at IS NULL AND o.given_up_at IS NULL AND o.next_attempt_at <= @now
              AND NOT (o.state = 'resolved' AND EXISTS (
                  SELECT 1 FROM alert_outbox p WHERE p.incident_id = o.incident_id AND p.target_id = o.target_id AND p.state = 'open'
                                                 AND p.sent_at IS NULL AND p.given_up_at IS NULL))
            ORDER BY o.id;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<OwedNotification>(new CommandDefinition(sql, new { targetId, now }, cancellationToken: ct))];
    }

    /// <summary>Messages the target took since <paramref name="since"/> (the hourly limit), and the oldest of them.</summary>
    public async Task<(long Count, DateTimeOffset? Oldest)> SentSinceAsync(long targetId, DateTimeOffset since, CancellationToken ct)
    {
        const string sql = "SELECT count(*) AS Count, min(sent_at) AS Oldest FROM alert_deliveries WHERE target_id = @targetId AND sent_at > @since;";
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleAsync<(long Count, string? Oldest)>(new CommandDefinition(sql, new { targetId, since }, cancellationToken: ct));
        return (row.Count, row.Oldest is null ? null : DateTimeOffset.Parse(row.Oldest, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The earliest retry due after <paramref name="now"/> (null: none waiting).</summary>
    public async Task<DateTimeOffset?> NextRetryAsync(DateTimeOffset now, CancellationToken ct)
    {
        const string sql = "SELECT min(next_attempt_at) FROM alert_outbox WHERE sent_at IS NULL AND given_up_at IS NULL AND next_attempt_at > @now;";
        await using var connection = await database.OpenAsync(ct);
        var next = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(sql, new { now }, cancellationToken: ct));
        return next is null ? null : DateTimeOffset.Parse(next, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The target took one message covering <paramref name="ids"/>: recorded as one delivery, in one transaction.</summary>
    public async Task MarkSentAsync(long targetId, IReadOnlyList<long> ids, string answer, DateTimeOffset now, CancellationToken ct)
    {
        const string delivery = "INSERT INTO alert_deliveries (target_id, sent_at, notifications, answer) VALUES (@targetId, @now, @count, @answer) RETURNING id;";
        const string sent = "UPDATE alert_outbox SET sent_at = @now, last_error = NULL, delivery_id = @deliveryId WHERE id IN (SELECT value FROM json_each(@ids));";
        const string notified = """
            UPDATE alert_incidents SET notified_at = coalesce(notified_at, @now)
            WHERE id IN (SELECT incident_id FROM alert_outbox WHERE state = 'open' AND id IN (SELECT value FROM json_each(@ids)));
            UPDATE alert_incidents SET resolved_notified_at = coalesce(resolved_notified_at, @now)
            WHERE id IN (SELECT incident_id FROM alert_outbox WHERE state = 'resolved' AND id IN (SELECT value FROM json_each(@ids)));
            """;
        var json = System.Text.Json.JsonSerializer.Serialize(ids);
        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var deliveryId = await connection.ExecuteScalarAsync<long>(new CommandDefinition(delivery, new { targetId, now, count = ids.Count, answer }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(sent, new { now, deliveryId, ids = json }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(notified, new { now, ids = json }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    /// <summary>A failed attempt: the next one waits until <paramref name="next"/>, or the notification is given up (null).</summary>
    public async Task MarkFailedAsync(IReadOnlyList<long> ids, string error, DateTimeOffset now, DateTimeOffset? next, CancellationToken ct)
    {
        const string sql = """
            UPDATE alert_outbox SET attempts = attempts + 1, last_error = @error,
                   next_attempt_at = coalesce(@next, next_attempt_at), given_up_at = CASE WHEN @next IS NULL THEN @now END
            WHERE id IN (SELECT value FROM json_each(@ids));
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { ids = System.Text.Json.JsonSerializer.Serialize(ids), error, now, next }, cancellationToken: ct));
    }
}
