using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>The steps of an upgrade, recorded in <c>instance_upgrades.step</c> (the instance is upgrading meanwhile).</summary>
public static class UpgradeSteps
{
    public const string Snapshot = "snapshot";
    public const string Apply = "apply";
    public const string Health = "health";
    public const string Record = "record";
    public const string Rollback = "rollback";
}

/// <summary>How an upgrade ended.</summary>
public static class UpgradeOutcomes
{
    public const string Upgraded = "upgraded";
    public const string RolledBack = "rolled-back";
    public const string Failed = "failed";
}

public sealed record UpgradeRow(
    long Id,
    long InstanceId,
    string FromRelease,
    string ToRelease,
    string Node,
    long Vmid,
    string Kind,
    string SnapshotName,
    string Step,
    bool? WasRunning,
    DateTimeOffset? SnapshotTakenAt,
    DateTimeOffset? AppliedAt,
    string? GuestStatus,
    string? GuestMessage,
    string? GuestVersions,
    DateTimeOffset? OsUpdateRequestedAt,
    string? CoreUpdateJob,
    DateTimeOffset? RolledBackAt,
    string? Reason,
    string? Outcome,
    string? RequestedBy,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? SnapshotDeletedAt,
    string? SnapshotKeptReason)
{
    public bool IsOpen => FinishedAt is null;
}

/// <summary>Upgrades of instances (migration 016); the instance's own state stays <see cref="InstanceTransitions"/>'.</summary>
public sealed class UpgradeRepository(Database database, TimeProvider time)
{
    private const string Columns = """
        id AS Id, instance_id AS InstanceId, from_release AS FromRelease, to_release AS ToRelease, node AS Node, vmid AS Vmid,
        kind AS Kind, snapshot_name AS SnapshotName, step AS Step, was_running AS WasRunning, snapshot_taken_at AS SnapshotTakenAt,
        applied_at AS AppliedAt, guest_status AS GuestStatus, guest_message AS GuestMessage, guest_versions AS GuestVersions,
        os_update_requested_at AS OsUpdateRequestedAt, core_update_job AS CoreUpdateJob, rolled_back_at AS RolledBackAt, reason AS Reason, outcome AS Outcome, requested_by AS RequestedBy, started_at AS StartedAt,
        finished_at AS FinishedAt, snapshot_deleted_at AS SnapshotDeletedAt, snapshot_kept_reason AS SnapshotKeptReason
        """;

    /// <summary>
    /// Records a new upgrade with its snapshot's name (<c>ctrlable-upgrade-&lt;release&gt;-u&lt;id&gt;</c>: a Proxmox
    /// configid, so no dots) before anything happens in Proxmox. Null when the instance has an open upgrade already.
    /// </summary>
    public async Task<UpgradeRow?> InsertAsync(InstanceRow instance, string toRelease, string? requestedBy, CancellationToken ct)
    {
        const string insert = """
            INSERT INTO instance_upgrades (instance_id, from_release, to_release, node, vmid, kind, snapshot_name, step, requested_by, started_at)
            VALUES (@Id, @Release, @toRelease, @Node, @Vmid, @kind, '', 'snapshot', @requestedBy, @now) RETURNING id;
            """;
        const string name = "UPDATE instance_upgrades SET snapshot_name = @snapshot WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        long id;
        try
        {
            id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(insert,
                new { instance.Id, instance.Release, toRelease, instance.Node, instance.Vmid, kind = instance.Kind ?? "lxc", requestedBy, now = time.GetUtcNow() }, tx, cancellationToken: ct));
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (Database.IsUniqueViolation(ex))
        {
            return null;
        }

        await connection.ExecuteAsync(new CommandDefinition(name, new { id, snapshot = SnapshotName(toRelease, id) }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return await GetAsync(id, ct);
    }

    /// <summary>Proxmox's snapshot names are configids (<c>^[a-z][a-z0-9_-]+$</c>, at most 40 characters).</summary>
    public static string SnapshotName(string release, long upgradeId) => $"{SnapshotPrefix}{release.Replace('.', '-')}-u{upgradeId}";

    /// <summary>Every snapshot the orchestrator names starts so; the sweep deletes nothing else.</summary>
    public const string SnapshotPrefix = "ctrlable-upgrade-";

    public async Task<UpgradeRow?> GetAsync(long id, CancellationToken ct)
    {
        var sql = $"SELECT {Columns} FROM instance_upgrades WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<UpgradeRow>(new CommandDefinition(sql, new { id }, cancellationToken: ct));
    }

    /// <summary>The instance's latest upgrade (open or not); null when it never had one.</summary>
    public async Task<UpgradeRow?> LatestAsync(long instanceId, CancellationToken ct)
    {
        var sql = $"SELECT {Columns} FROM instance_upgrades WHERE instance_id = @instanceId ORDER BY id DESC LIMIT 1;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<UpgradeRow>(new CommandDefinition(sql, new { instanceId }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<UpgradeRow>> ListByInstanceAsync(long instanceId, CancellationToken ct)
    {
        var sql = $"SELECT {Columns} FROM instance_upgrades WHERE instance_id = @instanceId ORDER BY id;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<UpgradeRow>(new CommandDefinition(sql, new { instanceId }, cancellationToken: ct))];
    }

    public async Task SetStepAsync(long id, string step, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET step = @step WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, step }, cancellationToken: ct));
    }

    public async Task SetWasRunningAsync(long id, bool running, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET was_running = @running WHERE id = @id AND was_running IS NULL;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, running }, cancellationToken: ct));
    }

    public async Task SetSnapshotTakenAsync(long id, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET snapshot_taken_at = coalesce(snapshot_taken_at, @now) WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    public async Task SetAppliedAsync(long id, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET applied_at = coalesce(applied_at, @now), step = 'health' WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>The guest's report; false when the upgrade is not waiting for one (not open, not at apply, or reported already).</summary>
    public async Task<bool> SetGuestReportAsync(long id, string status, string? message, string versions, CancellationToken ct)
    {
        const string sql = """
            UPDATE instance_upgrades SET guest_status = @status, guest_message = @message, guest_versions = @versions
            WHERE id = @id AND finished_at IS NULL AND step = 'apply' AND guest_status IS NULL;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { id, status, message, versions }, cancellationToken: ct)) > 0;
    }

    public async Task SetOsUpdateRequestedAsync(long id, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET os_update_requested_at = coalesce(os_update_requested_at, @now) WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>Supervisor's job of the Core update (null: forget it, Supervisor no longer knows it).</summary>
    public async Task SetCoreUpdateJobAsync(long id, string? job, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET core_update_job = @job WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, job }, cancellationToken: ct));
    }

    /// <summary>What runs after the update (Home Assistant: core and os), shown and recorded on the instance.</summary>
    public async Task SetVersionsAsync(long id, string versions, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET guest_versions = @versions WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, versions }, cancellationToken: ct));
    }

    /// <summary>The upgrade failed at <paramref name="reason"/>: it rolls back from here (the reason is kept for the dealer).</summary>
    public async Task StartRollbackAsync(long id, string reason, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET step = 'rollback', reason = coalesce(reason, @reason) WHERE id = @id AND finished_at IS NULL;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, reason }, cancellationToken: ct));
    }

    public async Task SetRolledBackAsync(long id, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET rolled_back_at = coalesce(rolled_back_at, @now) WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>Ends the upgrade (recorded before the instance moves, so a restart in between finishes the move).</summary>
    public async Task FinishAsync(long id, string outcome, string? reason, CancellationToken ct)
    {
        const string sql = """
            UPDATE instance_upgrades SET outcome = @outcome, reason = coalesce(@reason, reason), finished_at = @now
            WHERE id = @id AND finished_at IS NULL;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, outcome, reason, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>Ended upgrades whose snapshot is still to be dealt with and ended before <paramref name="before"/>.</summary>
    public async Task<IReadOnlyList<UpgradeRow>> ListExpiredSnapshotsAsync(DateTimeOffset before, CancellationToken ct)
    {
        var sql = $"""
            SELECT {Columns} FROM instance_upgrades
            WHERE finished_at IS NOT NULL AND finished_at <= @before AND snapshot_deleted_at IS NULL AND snapshot_kept_reason IS NULL
            ORDER BY id;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<UpgradeRow>(new CommandDefinition(sql, new { before }, cancellationToken: ct))];
    }

    public async Task SetSnapshotDeletedAsync(long id, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET snapshot_deleted_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    public async Task SetSnapshotKeptAsync(long id, string reason, CancellationToken ct)
    {
        const string sql = "UPDATE instance_upgrades SET snapshot_kept_reason = @reason WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, reason }, cancellationToken: ct));
    }
}
