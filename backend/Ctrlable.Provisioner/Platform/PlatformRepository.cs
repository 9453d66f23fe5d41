using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Platform;

/// <summary>The site's enrolment and delivery state (one row), with the number of changes waiting in the outbox.</summary>
public sealed record PlatformSiteRow(
    string? SiteId,
    DateTimeOffset? EnrolledAt,
    string? PlatformUrl,
    long LastSequence,
    DateTimeOffset? LastSuccessAt,
    DateTimeOffset? LastAttemptAt,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    long Failures,
    DateTimeOffset? NextAttemptAt,
    bool TokenRejected,
    long PendingChanges)
{
    public bool IsEnrolled => SiteId is not null;
}

/// <summary>A consistent snapshot of what a report contains, with the sequence number it was given.</summary>
public sealed record PlatformSnapshot(
    string SiteId,
    long Sequence,
    long CoversOutboxId,
    long Changes,
    bool EnrolmentPending,
    ReleaseRow? ActiveRelease,
    IReadOnlyList<TemplateRow> Templates,
    IReadOnlyList<ReportedInstance> Instances);

/// <summary>
/// <c>platform_site</c> and <c>platform_outbox</c> (migration 008). The outbox rows are written by triggers in the
/// same transaction as each change; this repository reads them and deletes what a delivered report covered.
/// </summary>
public sealed class PlatformRepository(Database database) : IOutboxDepth
{
    public async Task<PlatformSiteRow> GetAsync(CancellationToken ct)
    {
        const string sql = """
            SELECT site_id AS SiteId, enrolled_at AS EnrolledAt, platform_url AS PlatformUrl, last_sequence AS LastSequence,
                   last_success_at AS LastSuccessAt, last_attempt_at AS LastAttemptAt, last_error AS LastError, last_error_at AS LastErrorAt,
                   failures AS Failures, next_attempt_at AS NextAttemptAt, token_rejected AS TokenRejected,
                   (SELECT count(*) FROM platform_outbox) AS PendingChanges
            FROM platform_site WHERE id = 1;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleAsync<PlatformSiteRow>(new CommandDefinition(sql, cancellationToken: ct));
    }

    /// <summary>
    /// Changes waiting in the outbox, for the metrics gauge. Synchronous: a scrape reads gauges in a callback, and
    /// SQLite's async calls run synchronously anyway.
    /// </summary>
    public long CountOutbox()
    {
        const string sql = "SELECT count(*) FROM platform_outbox;";
        using var connection = database.OpenAsync().GetAwaiter().GetResult();
        return connection.ExecuteScalar<long>(sql);
    }

    /// <summary>Records a (new) enrolment and queues a full report, in one transaction; the sequence carries on.</summary>
    public async Task SaveEnrolmentAsync(string siteId, string platformUrl, DateTimeOffset now, CancellationToken ct)
    {
        const string update = """
            UPDATE platform_site SET site_id = @siteId, platform_url = @platformUrl, enrolled_at = @now, token_rejected = 0,
                                     failures = 0, next_attempt_at = NULL, last_error = NULL, last_error_at = NULL, last_success_at = NULL
            WHERE id = 1;
            """;
        const string queue = "INSERT INTO platform_outbox (at, reason) VALUES (@now, 'enrolment');";
        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(update, new { siteId, platformUrl, now }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(queue, new { now }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    /// <summary>Forgets the enrolment and what was waiting for it; the sequence number is kept (it never goes back).</summary>
    /// <summary>Forgets the enrolment and the changes waiting; <paramref name="note"/> (e.g. the platform could not be told) stays as the last error.</summary>
    public async Task ClearEnrolmentAsync(string? note, DateTimeOffset now, CancellationToken ct)
    {
        const string update = """
            UPDATE platform_site SET site_id = NULL, platform_url = NULL, enrolled_at = NULL, token_rejected = 0, failures = 0,
                                     next_attempt_at = NULL, last_error = @note, last_error_at = CASE WHEN @note IS NULL THEN NULL ELSE @now END,
                                     last_success_at = NULL, last_attempt_at = NULL
            WHERE id = 1;
            """;
        const string clear = "DELETE FROM platform_outbox;";
        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(update, new { note, now }, cancellationToken: ct, transaction: tx));
        await connection.ExecuteAsync(new CommandDefinition(clear, cancellationToken: ct, transaction: tx));
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Takes the next sequence number and reads everything a report contains in one write transaction, so the
    /// snapshot is consistent with the outbox position it covers and the number is committed before anything is sent
    /// (a crash after sending can never reuse it). Null when the site is not enrolled.
    /// </summary>
    public async Task<PlatformSnapshot?> TakeSnapshotAsync(CancellationToken ct)
    {
        const string nextSequence = "UPDATE platform_site SET last_sequence = last_sequence + 1 WHERE id = 1 AND site_id IS NOT NULL RETURNING site_id AS SiteId, last_sequence AS Sequence;";
        const string outbox = "SELECT coalesce(max(id), 0) AS MaxId, count(*) AS Changes, coalesce(max(reason = 'enrolment'), 0) AS Enrolment FROM platform_outbox;";
        const string activeRelease = """
            SELECT name AS Name, community_scripts_ref AS CommunityScriptsRef, community_scripts_commit AS CommunityScriptsCommit,
                   is_active AS IsActive, activated_at AS ActivatedAt, created_at AS CreatedAt
            FROM releases WHERE is_active = 1;
            """;
        const string templates = """
            SELECT id AS Id, release AS Release, name AS Name, kind AS Kind, vmid AS Vmid, node AS Node,
                   builder_ref AS BuilderRef, builder_commit AS BuilderCommit, app_version AS AppVersion, built_at AS BuiltAt,
                   haos_digest AS HaosDigest
            FROM templates WHERE release = @release ORDER BY name;
            """;
        const string instances = """
            SELECT i.id AS Id, p.slug AS Project, i.type AS Type, i.kind AS Kind, i.hostname AS Hostname, i.state AS State,
                   i.release AS Release, i.node AS Node, i.vmid AS Vmid, coalesce(i.changed_at, i.updated_at) AS ChangedAt,
                   h.instance_id AS HaInstanceId, h.url AS HaUrl, h.uuid_policy AS HaUuidPolicy, h.core_uuid AS HaCoreUuid,
                   h.restored_at AS HaRestoredAt, h.secured_at AS HaSecuredAt, h.wired_at AS HaWiredAt
            FROM instances i JOIN projects p ON p.id = i.project_id
            LEFT JOIN homeassistant_sites h ON h.instance_id = i.id
            ORDER BY i.id;
            """;

        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var sequence = await connection.QuerySingleOrDefaultAsync<SequenceRow>(new CommandDefinition(nextSequence, transaction: tx, cancellationToken: ct));
        if (sequence is null)
        {
            return null;
        }

        var position = await connection.QuerySingleAsync<OutboxPosition>(new CommandDefinition(outbox, transaction: tx, cancellationToken: ct));
        var release = await connection.QuerySingleOrDefaultAsync<ReleaseRow>(new CommandDefinition(activeRelease, transaction: tx, cancellationToken: ct));
        IReadOnlyList<TemplateRow> releaseTemplates = release is null
            ? []
            : [.. await connection.QueryAsync<TemplateRow>(new CommandDefinition(templates, new { release = release.Name }, tx, cancellationToken: ct))];
        var rows = await connection.QueryAsync<InstanceReportRow>(new CommandDefinition(instances, transaction: tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return new PlatformSnapshot(sequence.SiteId, sequence.Sequence, position.MaxId, position.Changes, position.Enrolment != 0, release, releaseTemplates,
            [.. rows.Select(r => r.ToReported())]);
    }

    /// <summary>The platform accepted a snapshot: drop the outbox rows it covered (later ones stay) and reset the back-off.</summary>
    public async Task MarkDeliveredAsync(long coversOutboxId, DateTimeOffset now, CancellationToken ct)
    {
        const string delete = "DELETE FROM platform_outbox WHERE id <= @coversOutboxId;";
        const string update = """
            UPDATE platform_site SET last_success_at = @now, last_attempt_at = @now, last_error = NULL, last_error_at = NULL,
                                     failures = 0, next_attempt_at = NULL
            WHERE id = 1;
            """;
        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(delete, new { coversOutboxId }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(update, new { now }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    /// <summary>A failed attempt: remember why, count it, and when the next attempt may start.</summary>
    public async Task RecordFailureAsync(string error, DateTimeOffset now, DateTimeOffset nextAttemptAt, CancellationToken ct)
    {
        const string sql = """
            UPDATE platform_site SET last_attempt_at = @now, last_error = @error, last_error_at = @now, failures = failures + 1,
                                     next_attempt_at = @nextAttemptAt
            WHERE id = 1;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { error, now, nextAttemptAt }, cancellationToken: ct));
    }

    /// <summary>The platform refused the site token: no further attempts until an admin enrols again.</summary>
    public async Task MarkTokenRejectedAsync(string error, DateTimeOffset now, CancellationToken ct)
    {
        const string sql = """
            UPDATE platform_site SET last_attempt_at = @now, last_error = @error, last_error_at = @now, token_rejected = 1, next_attempt_at = NULL
            WHERE id = 1;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { error, now }, cancellationToken: ct));
    }

    /// <summary>The platform holds a higher sequence than ours (a restored database): continue above it.</summary>
    public async Task RaiseSequenceAsync(long atLeast, CancellationToken ct)
    {
        const string sql = "UPDATE platform_site SET last_sequence = max(last_sequence, @atLeast) WHERE id = 1;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { atLeast }, cancellationToken: ct));
    }

    private sealed record SequenceRow(string SiteId, long Sequence);

    private sealed record OutboxPosition(long MaxId, long Changes, long Enrolment);

    private sealed record InstanceReportRow(long Id, string Project, string Type, string? Kind, string Hostname, string State, string? Release, string? Node, long? Vmid,
        DateTimeOffset ChangedAt, long? HaInstanceId, string? HaUrl, string? HaUuidPolicy, string? HaCoreUuid, DateTimeOffset? HaRestoredAt, DateTimeOffset? HaSecuredAt,
        DateTimeOffset? HaWiredAt)
    {
        public ReportedInstance ToReported() => new(Id, Project, Type, Kind, Hostname, State, Release, Node, Vmid, ChangedAt,
            HaInstanceId is null ? null : new ReportedHomeAssistant(HaUrl, HaUuidPolicy, HaCoreUuid, HaRestoredAt, HaSecuredAt, HaWiredAt));
    }
}
