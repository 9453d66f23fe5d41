using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>What the Home Assistant steps of a ctrlable-pro instance have done so far (homeassistant_sites).</summary>
public sealed record HomeAssistantSite(
    long InstanceId,
    string? Url,
    string? UuidPolicy,
    string? CoreUuid,
    string? BackupId,
    DateTimeOffset? RestoreRequestedAt,
    DateTimeOffset? RestoredAt,
    DateTimeOffset? AdminRotatedAt,
    string? OrchestratorUserId,
    DateTimeOffset? SecuredAt,
    DateTimeOffset? WiredAt,
    DateTimeOffset? HostnameSetAt = null,
    string? NetworkAddress = null,
    DateTimeOffset? NetworkSetAt = null);

/// <summary>A service wired into a site's Home Assistant.</summary>
public sealed record HomeAssistantWiring(long InstanceId, string Domain, string Target, string? EntryId, long? SourceInstanceId, DateTimeOffset WiredAt);

/// <summary>Persistence of the Home Assistant steps: one row per ctrlable-pro instance, one per wired service.</summary>
public sealed class HomeAssistantRepository(Database database, TimeProvider time)
{
    private const string SiteColumns = """
        instance_id AS InstanceId, url AS Url, uuid_policy AS UuidPolicy, core_uuid AS CoreUuid, backup_id AS BackupId,
        restore_requested_at AS RestoreRequestedAt, restored_at AS RestoredAt, admin_rotated_at AS AdminRotatedAt,
        orchestrator_user_id AS OrchestratorUserId, secured_at AS SecuredAt, wired_at AS WiredAt,
        hostname_set_at AS HostnameSetAt, network_address AS NetworkAddress, network_set_at AS NetworkSetAt
        """;

    /// <summary>The instance's record, created empty on first use.</summary>
    public async Task<HomeAssistantSite> GetAsync(long instanceId, CancellationToken ct)
    {
        const string insert = "INSERT INTO homeassistant_sites (instance_id, updated_at) VALUES (@instanceId, @now) ON CONFLICT (instance_id) DO NOTHING;";
        var select = $"SELECT {SiteColumns} FROM homeassistant_sites WHERE instance_id = @instanceId;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(insert, new { instanceId, now = time.GetUtcNow() }, cancellationToken: ct));
        return await connection.QuerySingleAsync<HomeAssistantSite>(new CommandDefinition(select, new { instanceId }, cancellationToken: ct));
    }

    public async Task<HomeAssistantSite?> FindAsync(long instanceId, CancellationToken ct)
    {
        var sql = $"SELECT {SiteColumns} FROM homeassistant_sites WHERE instance_id = @instanceId;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<HomeAssistantSite>(new CommandDefinition(sql, new { instanceId }, cancellationToken: ct));
    }

    public async Task SetUrlAsync(long instanceId, string url, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET url = @url, updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, url, now = time.GetUtcNow() }, ct);
    }

    /// <summary>Chooses the restore's uuid policy and fresh core.uuid once; later calls keep the first choice.</summary>
    public async Task SetRestorePlanAsync(long instanceId, string uuidPolicy, string? coreUuid, CancellationToken ct)
    {
        const string sql = """
            UPDATE homeassistant_sites SET uuid_policy = COALESCE(uuid_policy, @uuidPolicy), core_uuid = COALESCE(core_uuid, @coreUuid), updated_at = @now
            WHERE instance_id = @instanceId;
            """;
        await ExecuteAsync(sql, new { instanceId, uuidPolicy, coreUuid, now = time.GetUtcNow() }, ct);
    }

    public async Task SetBackupIdAsync(long instanceId, string backupId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET backup_id = @backupId, updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, backupId, now = time.GetUtcNow() }, ct);
    }

    public async Task SetRestoreRequestedAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET restore_requested_at = COALESCE(restore_requested_at, @now), updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, now = time.GetUtcNow() }, ct);
    }

    /// <summary>Forgets the restore request (Home Assistant reported it failed): the next attempt asks again.</summary>
    public async Task ClearRestoreRequestedAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET restore_requested_at = NULL, updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, now = time.GetUtcNow() }, ct);
    }

    public async Task SetRestoredAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET restored_at = COALESCE(restored_at, @now), updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, now = time.GetUtcNow() }, ct);
    }

    public async Task SetAdminRotatedAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET admin_rotated_at = COALESCE(admin_rotated_at, @now), updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, now = time.GetUtcNow() }, ct);
    }

    public async Task SetOrchestratorUserAsync(long instanceId, string userId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET orchestrator_user_id = @userId, updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, userId, now = time.GetUtcNow() }, ct);
    }

    public async Task SetSecuredAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET secured_at = COALESCE(secured_at, @now), updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, now = time.GetUtcNow() }, ct);
    }

    public async Task SetWiredAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET wired_at = COALESCE(wired_at, @now), updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, now = time.GetUtcNow() }, ct);
    }

    public async Task SetHostnameSetAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET hostname_set_at = COALESCE(hostname_set_at, @now), updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, now = time.GetUtcNow() }, ct);
    }

    /// <summary>The static address about to be asked of Supervisor (recorded first: a resumed flow looks for Home Assistant there too).</summary>
    public async Task SetNetworkRequestedAsync(long instanceId, string address, CancellationToken ct)
    {
        const string sql = """
            UPDATE homeassistant_sites SET network_set_at = CASE WHEN network_address = @address THEN network_set_at END,
                                           network_address = @address, updated_at = @now
            WHERE instance_id = @instanceId;
            """;
        await ExecuteAsync(sql, new { instanceId, address, now = time.GetUtcNow() }, ct);
    }

    public async Task SetNetworkSetAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE homeassistant_sites SET network_set_at = COALESCE(network_set_at, @now), updated_at = @now WHERE instance_id = @instanceId;";
        await ExecuteAsync(sql, new { instanceId, now = time.GetUtcNow() }, ct);
    }

    public async Task<IReadOnlyList<HomeAssistantWiring>> ListWiringAsync(long instanceId, CancellationToken ct)
    {
        const string sql = """
            SELECT instance_id AS InstanceId, domain AS Domain, target AS Target, entry_id AS EntryId, source_instance_id AS SourceInstanceId, wired_at AS WiredAt
            FROM homeassistant_wiring WHERE instance_id = @instanceId ORDER BY domain, target;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<HomeAssistantWiring>(new CommandDefinition(sql, new { instanceId }, cancellationToken: ct))];
    }

    public async Task RecordWiringAsync(long instanceId, string domain, string target, string? entryId, long? sourceInstanceId, CancellationToken ct)
    {
        const string sql = """
            INSERT INTO homeassistant_wiring (instance_id, domain, target, entry_id, source_instance_id, wired_at)
            VALUES (@instanceId, @domain, @target, @entryId, @sourceInstanceId, @now)
            ON CONFLICT (instance_id, domain, target) DO UPDATE SET entry_id = excluded.entry_id, source_instance_id = excluded.source_instance_id, wired_at = excluded.wired_at;
            """;
        await ExecuteAsync(sql, new { instanceId, domain, target, entryId, sourceInstanceId, now = time.GetUtcNow() }, ct);
    }

    /// <summary>A wired service moved to another address: its row follows it (the old target's row goes, in one transaction).</summary>
    public async Task MoveWiringAsync(long instanceId, string domain, string fromTarget, string toTarget, string? entryId, long? sourceInstanceId, CancellationToken ct)
    {
        const string sql = """
            DELETE FROM homeassistant_wiring WHERE instance_id = @instanceId AND domain = @domain AND target = @fromTarget;
            INSERT INTO homeassistant_wiring (instance_id, domain, target, entry_id, source_instance_id, wired_at)
            VALUES (@instanceId, @domain, @toTarget, @entryId, @sourceInstanceId, @now)
            ON CONFLICT (instance_id, domain, target) DO UPDATE SET entry_id = excluded.entry_id, source_instance_id = excluded.source_instance_id, wired_at = excluded.wired_at;
            """;
        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { instanceId, domain, fromTarget, toTarget, entryId, sourceInstanceId, now = time.GetUtcNow() }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    private async Task ExecuteAsync(string sql, object parameters, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: ct));
    }
}
