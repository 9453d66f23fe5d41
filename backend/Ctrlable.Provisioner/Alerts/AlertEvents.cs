using Dapper;
using Database = Ctrlable.Provisioner.State.Database;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>
/// The one entry point for alerts: a feature raises an <see cref="Incident"/> when something goes wrong and resolves it
/// when it clears. One incident per kind + subject while open (a repeat is counted, not notified again); opening and
/// resolving write the notifications each enabled target is owed into <c>alert_outbox</c> in the same transaction, and
/// <see cref="AlertDispatcher"/> delivers them. Upgrades and backups call this too (kinds upgrade-failed, backup-failed,
/// backup-missing).
/// </summary>
public sealed class AlertEvents(Database database, AlertDispatcher dispatcher, TimeProvider time, ILogger<AlertEvents> logger)
{
    /// <summary>
    /// Opens the incident, or counts one more event of the open one; true when notifications were queued: it was opened,
    /// or the open one escalated (a critical event of an incident opened as a warning, e.g. a certificate that expired
    /// after its warning: it takes the new severity and title, and every target is owed its "open" again).
    /// </summary>
    public async Task<bool> RaiseAsync(Incident incident, CancellationToken ct)
    {
        const string find = "SELECT id AS Id, severity AS Severity FROM alert_incidents WHERE key = @Key AND resolved_at IS NULL;";
        const string repeat = """
            UPDATE alert_incidents SET last_seen_at = @now, events = events + 1, detail = @Detail
            WHERE id = @id;
            """;
        const string escalate = """
            UPDATE alert_incidents SET last_seen_at = @now, events = events + 1, detail = @Detail, severity = @Severity, title = @Title
            WHERE id = @id;
            """;
        const string open = """
            INSERT INTO alert_incidents (key, kind, subject, severity, title, detail, project_id, project_name, instance_id, instance_name, link_path, opened_at, last_seen_at)
            VALUES (@Key, @Kind, @Subject, @Severity, @Title, @Detail, @ProjectId, @ProjectName, @InstanceId, @InstanceName, @LinkPath, @now, @now)
            RETURNING id;
            """;
        // One "open" per target and incident (UNIQUE): an escalation owes the sent one again; the delivery it went out
        // in stays in alert_deliveries.
        const string owe = """
            UPDATE alert_outbox SET sent_at = NULL, given_up_at = NULL, attempts = 0, last_error = NULL, next_attempt_at = @now, delivery_id = NULL
            WHERE incident_id = @id AND state = 'open';
            INSERT OR IGNORE INTO alert_outbox (incident_id, target_id, state, created_at, next_attempt_at)
            SELECT @id, id, 'open', @now, @now FROM alert_targets WHERE enabled = 1;
            """;
        var now = time.GetUtcNow();
        bool opened;
        await using (var connection = await database.OpenAsync(ct))
        {
            // BEGIN IMMEDIATE: two raises of one key cannot both find none open.
            await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, ct);
            var parameters = new DynamicParameters(incident);
            parameters.Add("now", now);
            var existing = await connection.QuerySingleOrDefaultAsync<(long Id, string Severity)?>(new CommandDefinition(find, parameters, tx, cancellationToken: ct));
            if (existing is { } current && !Escalates(current.Severity, incident.Severity))
            {
                parameters.Add("id", current.Id);
                await connection.ExecuteAsync(new CommandDefinition(repeat, parameters, tx, cancellationToken: ct));
                await tx.CommitAsync(ct);
                logger.LogDebug("Alert {Key} is open already: counted, not notified again", incident.Key);
                return false;
            }

            opened = existing is null;
            long id;
            if (existing is { } escalated)
            {
                id = escalated.Id;
                parameters.Add("id", id);
                await connection.ExecuteAsync(new CommandDefinition(escalate, parameters, tx, cancellationToken: ct));
            }
            else
            {
                id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(open, parameters, tx, cancellationToken: ct));
            }

            await connection.ExecuteAsync(new CommandDefinition(owe, new { id, now }, tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }

        if (opened)
        {
            logger.LogWarning("Alert opened: {Key}: {Title}", incident.Key, incident.Title);
        }
        else
        {
            logger.LogWarning("Alert escalated to critical: {Key}: {Title}", incident.Key, incident.Title);
        }

        dispatcher.Wake();
        return true;
    }

    private static bool Escalates(string openSeverity, string severity) =>
        openSeverity == AlertSeverities.Warning && severity == AlertSeverities.Critical;

    /// <summary>Resolves the open incident of <paramref name="kind"/> and <paramref name="subject"/>; true when there was one ("resolved" notifications queued).</summary>
    public async Task<bool> ResolveAsync(string kind, string subject, string detail, CancellationToken ct)
    {
        const string sql = "SELECT id FROM alert_incidents WHERE key = @key AND resolved_at IS NULL;";
        await using var connection = await database.OpenAsync(ct);
        var ids = (await connection.QueryAsync<long>(new CommandDefinition(sql, new { key = Incident.KeyOf(kind, subject) }, cancellationToken: ct))).ToList();
        return await ResolveIdsAsync(ids, detail, ct) > 0;
    }

    /// <summary>Resolves every open incident about the instance among <paramref name="kinds"/> (all kinds when empty).</summary>
    public async Task<int> ResolveInstanceAsync(long instanceId, IReadOnlyCollection<string> kinds, string detail, CancellationToken ct)
    {
        const string sql = """
            SELECT id FROM alert_incidents
            WHERE instance_id = @instanceId AND resolved_at IS NULL AND (@all OR kind IN (SELECT value FROM json_each(@kinds)));
            """;
        await using var connection = await database.OpenAsync(ct);
        var ids = (await connection.QueryAsync<long>(new CommandDefinition(sql,
            new { instanceId, all = kinds.Count == 0, kinds = System.Text.Json.JsonSerializer.Serialize(kinds) }, cancellationToken: ct))).ToList();
        return await ResolveIdsAsync(ids, detail, ct);
    }

    /// <summary>Whether an incident of this kind and subject is open.</summary>
    public async Task<bool> IsOpenAsync(string kind, string subject, CancellationToken ct)
    {
        const string sql = "SELECT count(*) FROM alert_incidents WHERE key = @key AND resolved_at IS NULL;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, new { key = Incident.KeyOf(kind, subject) }, cancellationToken: ct)) > 0;
    }

    /// <summary>Incidents, newest first (open ones only when <paramref name="openOnly"/>).</summary>
    public async Task<IReadOnlyList<AlertIncidentView>> ListAsync(bool openOnly, int limit, CancellationToken ct)
    {
        const string sql = """
            SELECT id AS Id, kind AS Kind, subject AS Subject, severity AS Severity, title AS Title, detail AS Detail, project_id AS ProjectId,
                   instance_id AS InstanceId, opened_at AS OpenedAt, last_seen_at AS LastSeenAt, events AS Events, notified_at AS NotifiedAt,
                   resolved_at AS ResolvedAt, resolved_detail AS ResolvedDetail
            FROM alert_incidents WHERE NOT @openOnly OR resolved_at IS NULL ORDER BY id DESC LIMIT @limit;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<AlertIncidentView>(new CommandDefinition(sql, new { openOnly, limit }, cancellationToken: ct))];
    }

    private async Task<int> ResolveIdsAsync(IReadOnlyList<long> ids, string detail, CancellationToken ct)
    {
        const string resolve = "UPDATE alert_incidents SET resolved_at = @now, resolved_detail = @detail WHERE id = @id AND resolved_at IS NULL RETURNING key;";
        // Every target that is owed (or was sent) the incident's "open" gets its "resolved".
        const string owe = """
            INSERT OR IGNORE INTO alert_outbox (incident_id, target_id, state, created_at, next_attempt_at)
            SELECT incident_id, target_id, 'resolved', @now, @now FROM alert_outbox WHERE incident_id = @id AND state = 'open';
            """;
        var resolved = 0;
        foreach (var id in ids)
        {
            var now = time.GetUtcNow();
            await using var connection = await database.OpenAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, ct);
            if (await connection.ExecuteScalarAsync<string>(new CommandDefinition(resolve, new { id, now, detail }, tx, cancellationToken: ct)) is not { } key)
            {
                continue;
            }

            await connection.ExecuteAsync(new CommandDefinition(owe, new { id, now }, tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
            logger.LogInformation("Alert resolved: {Key}: {Detail}", key, detail);
            resolved++;
        }

        if (resolved > 0)
        {
            dispatcher.Wake();
        }

        return resolved;
    }
}
