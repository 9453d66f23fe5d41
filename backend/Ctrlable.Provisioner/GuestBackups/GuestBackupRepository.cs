using System.Security.Cryptography;
using System.Text.Json;
using Dapper;
using Database = Ctrlable.Provisioner.State.Database;

namespace Ctrlable.Provisioner.GuestBackups;

/// <summary>What the scheduler knows of a project's schedule: since when it holds, and the project's backup marker nonce.</summary>
public sealed record BackupScheduleRow(long ProjectId, string Schedule, DateTimeOffset Since, string Nonce);

/// <summary>One vzdump of a run: the node, its guests and (once Proxmox answered) the task's UPID.</summary>
public sealed record BackupTaskEntry(string Node, IReadOnlyList<int> Vmids, string? Upid);

public sealed record BackupRunRow(long Id, long ProjectId, DateTimeOffset? Slot, string State, string Storage, long KeepLast, string TasksJson,
    string? RequestedBy, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string? Message, string? Error)
{
    public IReadOnlyList<BackupTaskEntry> Tasks => JsonSerializer.Deserialize<List<BackupTaskEntry>>(TasksJson, GuestBackupRepository.Json) ?? [];
}

public sealed record GuestRestoreRow(long Id, long ProjectId, long SourceInstanceId, string Volid, string Kind, string Node, long? Vmid, string OwnerNonce,
    string State, string? Upid, string? Error, string? RequestedBy, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);

/// <summary>The tables of migration 017: schedules, backup runs and restores.</summary>
public sealed class GuestBackupRepository(Database database, TimeProvider time)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private const string RunColumns = """
        id AS Id, project_id AS ProjectId, slot AS Slot, state AS State, storage AS Storage, keep_last AS KeepLast, tasks_json AS TasksJson,
        requested_by AS RequestedBy, started_at AS StartedAt, finished_at AS FinishedAt, message AS Message, error AS Error
        """;

    private const string RestoreColumns = """
        id AS Id, project_id AS ProjectId, source_instance_id AS SourceInstanceId, volid AS Volid, kind AS Kind, node AS Node, vmid AS Vmid,
        owner_nonce AS OwnerNonce, state AS State, upid AS Upid, error AS Error, requested_by AS RequestedBy, created_at AS CreatedAt, finished_at AS FinishedAt
        """;

    /// <summary>
    /// The project's schedule row: created with a fresh nonce when absent; a changed <paramref name="schedule"/> restarts
    /// <c>since</c> (the nonce stays, so retention keeps knowing the project's archives). <paramref name="savedAt"/> is
    /// when the project's settings that hold this schedule were saved: the schedule holds from then, however late the
    /// scheduler first looks at it.
    /// </summary>
    public async Task<BackupScheduleRow> EnsureScheduleAsync(long projectId, string schedule, DateTimeOffset savedAt, CancellationToken ct)
    {
        const string sql = """
            INSERT INTO backup_schedules (project_id, schedule, since, nonce) VALUES (@projectId, @schedule, @savedAt, @nonce)
            ON CONFLICT (project_id) DO UPDATE SET schedule = excluded.schedule, since = excluded.since WHERE schedule <> excluded.schedule;
            SELECT project_id AS ProjectId, schedule AS Schedule, since AS Since, nonce AS Nonce FROM backup_schedules WHERE project_id = @projectId;
            """;
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleAsync<BackupScheduleRow>(new CommandDefinition(sql, new { projectId, schedule, savedAt, nonce }, cancellationToken: ct));
    }

    /// <summary>The project's schedule row as last ensured; null before the first run, restore or scheduler round.</summary>
    public async Task<BackupScheduleRow?> GetScheduleAsync(long projectId, CancellationToken ct)
    {
        const string sql = "SELECT project_id AS ProjectId, schedule AS Schedule, since AS Since, nonce AS Nonce FROM backup_schedules WHERE project_id = @projectId;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<BackupScheduleRow>(new CommandDefinition(sql, new { projectId }, cancellationToken: ct));
    }

    /// <summary>Records a run before anything is asked of Proxmox; null when the slot has a run already or one of the project runs.</summary>
    public async Task<BackupRunRow?> TryStartRunAsync(long projectId, DateTimeOffset? slot, string storage, int keepLast, string? requestedBy, CancellationToken ct)
    {
        var sql = $"""
            INSERT INTO backup_runs (project_id, slot, state, storage, keep_last, requested_by, started_at)
            VALUES (@projectId, @slot, 'running', @storage, @keepLast, @requestedBy, @now) RETURNING {RunColumns};
            """;
        await using var connection = await database.OpenAsync(ct);
        try
        {
            return await connection.QuerySingleAsync<BackupRunRow>(new CommandDefinition(sql, new { projectId, slot, storage, keepLast, requestedBy, now = time.GetUtcNow() }, cancellationToken: ct));
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (Database.IsUniqueViolation(ex))
        {
            return null;
        }
    }

    public async Task<bool> HasRunForSlotAsync(long projectId, DateTimeOffset slot, CancellationToken ct)
    {
        const string sql = "SELECT count(*) FROM backup_runs WHERE project_id = @projectId AND slot = @slot;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, new { projectId, slot }, cancellationToken: ct)) > 0;
    }

    public async Task SetTasksAsync(long runId, IReadOnlyList<BackupTaskEntry> tasks, CancellationToken ct)
    {
        const string sql = "UPDATE backup_runs SET tasks_json = @json WHERE id = @runId;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { runId, json = JsonSerializer.Serialize(tasks, Json) }, cancellationToken: ct));
    }

    public async Task FinishRunAsync(long runId, bool succeeded, string message, string? error, CancellationToken ct)
    {
        const string sql = "UPDATE backup_runs SET state = @state, finished_at = @now, message = @message, error = @error WHERE id = @runId AND state = 'running';";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { runId, state = succeeded ? "succeeded" : "failed", now = time.GetUtcNow(), message, error }, cancellationToken: ct));
    }

    public async Task<BackupRunRow?> GetRunAsync(long runId, CancellationToken ct)
    {
        var sql = $"SELECT {RunColumns} FROM backup_runs WHERE id = @runId;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<BackupRunRow>(new CommandDefinition(sql, new { runId }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<BackupRunRow>> ListRunsAsync(long projectId, int limit, CancellationToken ct)
    {
        var sql = $"SELECT {RunColumns} FROM backup_runs WHERE project_id = @projectId ORDER BY id DESC LIMIT @limit;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<BackupRunRow>(new CommandDefinition(sql, new { projectId, limit }, cancellationToken: ct))];
    }

    public async Task<IReadOnlyList<BackupRunRow>> ListRunningAsync(CancellationToken ct)
    {
        var sql = $"SELECT {RunColumns} FROM backup_runs WHERE state = 'running' ORDER BY id;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<BackupRunRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    public async Task<GuestRestoreRow> InsertRestoreAsync(long projectId, long sourceInstanceId, string volid, string kind, string node, string? requestedBy, CancellationToken ct)
    {
        var sql = $"""
            INSERT INTO guest_restores (project_id, source_instance_id, volid, kind, node, owner_nonce, state, requested_by, created_at)
            VALUES (@projectId, @sourceInstanceId, @volid, @kind, @node, @nonce, 'restoring', @requestedBy, @now) RETURNING {RestoreColumns};
            """;
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleAsync<GuestRestoreRow>(new CommandDefinition(sql, new { projectId, sourceInstanceId, volid, kind, node, nonce, requestedBy, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>Reserves <paramref name="vmid"/> for the restore; false when another restore holds it.</summary>
    public async Task<bool> TryReserveRestoreVmidAsync(long id, long? vmid, CancellationToken ct)
    {
        const string sql = "UPDATE guest_restores SET vmid = @vmid WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(sql, new { id, vmid }, cancellationToken: ct));
            return true;
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (Database.IsUniqueViolation(ex))
        {
            return false;
        }
    }

    public async Task SetRestoreUpidAsync(long id, string upid, CancellationToken ct)
    {
        const string sql = "UPDATE guest_restores SET upid = @upid WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, upid }, cancellationToken: ct));
    }

    public async Task FinishRestoreAsync(long id, bool succeeded, string? error, CancellationToken ct)
    {
        const string sql = "UPDATE guest_restores SET state = @state, error = @error, finished_at = @now WHERE id = @id AND state = 'restoring';";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, state = succeeded ? "restored" : "failed", error, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    public async Task<GuestRestoreRow?> GetRestoreAsync(long id, CancellationToken ct)
    {
        var sql = $"SELECT {RestoreColumns} FROM guest_restores WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<GuestRestoreRow>(new CommandDefinition(sql, new { id }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<GuestRestoreRow>> ListRestoresAsync(long projectId, CancellationToken ct)
    {
        var sql = $"SELECT {RestoreColumns} FROM guest_restores WHERE project_id = @projectId ORDER BY id DESC;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<GuestRestoreRow>(new CommandDefinition(sql, new { projectId }, cancellationToken: ct))];
    }

    public async Task<IReadOnlyList<GuestRestoreRow>> ListUnfinishedRestoresAsync(CancellationToken ct)
    {
        var sql = $"SELECT {RestoreColumns} FROM guest_restores WHERE state = 'restoring' ORDER BY id;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<GuestRestoreRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }
}
