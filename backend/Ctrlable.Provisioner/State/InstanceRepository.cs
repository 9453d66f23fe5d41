using System.Text.Json;
using Dapper;

namespace Ctrlable.Provisioner.State;

public sealed record ProjectRow(long Id, string Name, string Slug, string SettingsJson, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record InstanceRow(
    long Id,
    long ProjectId,
    long? DeployId,
    string Type,
    string? Kind,
    string Hostname,
    long? Vmid,
    long? TemplateVmid,
    string? Node,
    string? Mac,
    string? Ip,
    string State,
    string? Release,
    string? Upid,
    string? CloneMode,
    string? Message,
    string? Error,
    DateTimeOffset? DeadlineAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    bool NeedsBinding,
    string? InstalledVersions,
    string? AppUrl = null,
    string? OwnerNonce = null,
    string? StaticIp = null)
{
    public bool IsFinished => State is InstanceStates.Active or InstanceStates.Failed or InstanceStates.Deleted;

    /// <summary>What the guest reported at the end of its first boot (<see cref="InstalledVersions"/>: app → version); null when nothing.</summary>
    public Dictionary<string, string>? ReportedVersions() =>
        InstalledVersions is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(InstalledVersions);
}

/// <summary>A new instance to record: its place in the pipeline starts at <see cref="InstanceStates.Pending"/>.</summary>
public sealed record NewInstance(string Type, string Kind, long TemplateVmid, string Node, string Release);

/// <summary>Projects (customer sites), deploys, and the guests deployed for them; their state is written by <see cref="InstanceTransitions"/> only.</summary>
public sealed class InstanceRepository(Database database, TimeProvider time)
{
    /// <summary>Every column of <see cref="InstanceRow"/> (also read by <see cref="InstanceTransitions"/>).</summary>
    internal const string InstanceColumns = """
        id AS Id, project_id AS ProjectId, deploy_id AS DeployId, type AS Type, kind AS Kind, hostname AS Hostname,
        vmid AS Vmid, template_vmid AS TemplateVmid, node AS Node, mac AS Mac, ip AS Ip, state AS State, release AS Release,
        upid AS Upid, clone_mode AS CloneMode, message AS Message, error AS Error, deadline_at AS DeadlineAt,
        created_at AS CreatedAt, updated_at AS UpdatedAt, needs_binding AS NeedsBinding, installed_versions AS InstalledVersions,
        app_url AS AppUrl, owner_nonce AS OwnerNonce, static_ip AS StaticIp
        """;

    private const string ProjectColumns = "id AS Id, name AS Name, slug AS Slug, settings_json AS SettingsJson, created_at AS CreatedAt, updated_at AS UpdatedAt";

    // --- Projects -------------------------------------------------------------------------------

    public async Task<IReadOnlyList<ProjectRow>> ListProjectsAsync(CancellationToken ct)
    {
        var sql = $"SELECT {ProjectColumns} FROM projects ORDER BY name;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<ProjectRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    public async Task<ProjectRow?> GetProjectAsync(long id, CancellationToken ct)
    {
        var sql = $"SELECT {ProjectColumns} FROM projects WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<ProjectRow>(new CommandDefinition(sql, new { id }, cancellationToken: ct));
    }

    /// <summary>Null when the slug is taken.</summary>
    public async Task<ProjectRow?> InsertProjectAsync(string name, string slug, string settingsJson, CancellationToken ct)
    {
        const string sql = """
            INSERT INTO projects (name, slug, settings_json, created_at, updated_at) VALUES (@name, @slug, @settingsJson, @now, @now)
            ON CONFLICT (slug) DO NOTHING RETURNING id;
            """;
        await using var connection = await database.OpenAsync(ct);
        var id = await connection.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(sql, new { name, slug, settingsJson, now = time.GetUtcNow() }, cancellationToken: ct));
        return id is null ? null : await GetProjectAsync(id.Value, ct);
    }

    public async Task<bool> UpdateProjectAsync(long id, string name, string settingsJson, CancellationToken ct)
    {
        const string sql = "UPDATE projects SET name = @name, settings_json = @settingsJson, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { id, name, settingsJson, now = time.GetUtcNow() }, cancellationToken: ct)) > 0;
    }

    // --- Deploys and instances ----------------------------------------------------------------

    /// <summary>
    /// Records a deploy and its instances in one transaction. Hostnames are <c>slug-type</c>, then
    /// <c>slug-type-2</c>, ...: the first free one among live instances (a unique index settles races).
    /// </summary>
    public async Task<(long DeployId, IReadOnlyList<InstanceRow> Instances)> InsertDeployAsync(
        long projectId, string slug, string kind, string release, string? createdBy, IReadOnlyList<NewInstance> instances, CancellationToken ct)
    {
        const string insertDeploy = """
            INSERT INTO deploys (project_id, kind, release, created_by, created_at) VALUES (@projectId, @kind, @release, @createdBy, @now) RETURNING id;
            """;
        const string liveHostnames = "SELECT hostname FROM instances WHERE state <> 'deleted' AND hostname LIKE @prefix;";
        const string insertInstance = """
            INSERT INTO instances (project_id, deploy_id, type, kind, template_vmid, hostname, node, state, release, message, owner_nonce, created_at, updated_at)
            VALUES (@projectId, @deployId, @Type, @Kind, @TemplateVmid, @hostname, @Node, 'pending', @Release, 'Queued', @ownerNonce, @now, @now) RETURNING id;
            """;

        var now = time.GetUtcNow();
        await using var connection = await database.OpenAsync(ct);
        // BEGIN IMMEDIATE: concurrent deploys of one project queue here instead of racing for hostnames.
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, ct);
        var deployId = await connection.ExecuteScalarAsync<long>(new CommandDefinition(insertDeploy, new { projectId, kind, release, createdBy, now }, tx, cancellationToken: ct));
        var ids = new List<long>();
        foreach (var instance in instances)
        {
            var stem = $"{slug}-{instance.Type}";
            var taken = (await connection.QueryAsync<string>(new CommandDefinition(liveHostnames, new { prefix = stem + "%" }, tx, cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
            var hostname = stem;
            for (var n = 2; taken.Contains(hostname); n++)
            {
                hostname = $"{stem}-{n}";
            }

            // The guest's ownership proof (GuestOwnership): random, so no other database can produce it.
            var ownerNonce = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
            ids.Add(await connection.ExecuteScalarAsync<long>(new CommandDefinition(insertInstance,
                new { projectId, deployId, instance.Type, instance.Kind, instance.TemplateVmid, hostname, instance.Node, instance.Release, ownerNonce, now }, tx, cancellationToken: ct)));
        }

        await tx.CommitAsync(ct);
        var rows = new List<InstanceRow>();
        foreach (var id in ids)
        {
            rows.Add((await GetAsync(id, ct))!);
        }

        return (deployId, rows);
    }

    public async Task<InstanceRow?> GetAsync(long id, CancellationToken ct)
    {
        var sql = $"SELECT {InstanceColumns} FROM instances WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<InstanceRow>(new CommandDefinition(sql, new { id }, cancellationToken: ct));
    }

    /// <summary>Every instance that has not been deleted, across projects.</summary>
    public async Task<IReadOnlyList<InstanceRow>> ListLiveAsync(CancellationToken ct)
    {
        var sql = $"SELECT {InstanceColumns} FROM instances WHERE state <> 'deleted' ORDER BY project_id, type, hostname;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<InstanceRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    public async Task<IReadOnlyList<InstanceRow>> ListByProjectAsync(long projectId, bool includeDeleted, CancellationToken ct)
    {
        var sql = $"SELECT {InstanceColumns} FROM instances WHERE project_id = @projectId AND (@includeDeleted OR state <> 'deleted') ORDER BY type, hostname;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<InstanceRow>(new CommandDefinition(sql, new { projectId, includeDeleted }, cancellationToken: ct))];
    }

    public async Task<IReadOnlyList<InstanceRow>> ListByDeployAsync(long deployId, CancellationToken ct)
    {
        var sql = $"SELECT {InstanceColumns} FROM instances WHERE deploy_id = @deployId ORDER BY id;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<InstanceRow>(new CommandDefinition(sql, new { deployId }, cancellationToken: ct))];
    }

    /// <summary>Instances a pipeline still has to drive (deploys and deletes cut short by a restart).</summary>
    public async Task<IReadOnlyList<InstanceRow>> ListUnfinishedAsync(CancellationToken ct)
    {
        var sql = $"SELECT {InstanceColumns} FROM instances WHERE state NOT IN ('active', 'failed', 'deleted') ORDER BY id;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<InstanceRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    /// <summary>VMIDs held by live instances (reserved even before their clone exists).</summary>
    public async Task<IReadOnlySet<long>> ReservedVmidsAsync(CancellationToken ct)
    {
        // Guests restored from a backup (migration 017) keep their VMIDs too: no clone may be given one.
        const string sql = "SELECT vmid FROM instances WHERE state <> 'deleted' AND vmid IS NOT NULL UNION SELECT vmid FROM guest_restores WHERE vmid IS NOT NULL;";
        await using var connection = await database.OpenAsync(ct);
        return (await connection.QueryAsync<long>(new CommandDefinition(sql, cancellationToken: ct))).ToHashSet();
    }

    /// <summary>Reserves <paramref name="vmid"/> for the instance; false when another live instance holds it.</summary>
    public async Task<bool> TryReserveVmidAsync(long id, long vmid, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET vmid = @vmid, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(sql, new { id, vmid, now = time.GetUtcNow() }, cancellationToken: ct));
            return true;
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (Database.IsUniqueViolation(ex))
        {
            return false;
        }
    }

    public async Task ClearVmidAsync(long id, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET vmid = NULL, upid = NULL, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>Static addresses held by live instances of every project (recorded before they are written into a guest).</summary>
    public async Task<IReadOnlySet<string>> ReservedStaticIpsAsync(CancellationToken ct)
    {
        const string sql = "SELECT static_ip FROM instances WHERE state <> 'deleted' AND static_ip IS NOT NULL;";
        await using var connection = await database.OpenAsync(ct);
        return (await connection.QueryAsync<string>(new CommandDefinition(sql, cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Gives the instance <paramref name="address"/>; false when another live instance holds it (the unique index decides).</summary>
    public async Task<bool> TryReserveStaticIpAsync(long id, string address, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET static_ip = @address, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(sql, new { id, address, now = time.GetUtcNow() }, cancellationToken: ct));
            return true;
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (Database.IsUniqueViolation(ex))
        {
            return false;
        }
    }

    public async Task<IReadOnlySet<string>> KnownMacsAsync(CancellationToken ct)
    {
        const string sql = "SELECT mac FROM instances WHERE mac IS NOT NULL AND state <> 'deleted';";
        await using var connection = await database.OpenAsync(ct);
        return (await connection.QueryAsync<string>(new CommandDefinition(sql, cancellationToken: ct))).ToHashSet(StringComparer.OrdinalIgnoreCase);
    }

    public async Task SetCloneAsync(long id, string node, string cloneMode, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET node = @node, clone_mode = @cloneMode, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, node, cloneMode, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>The node Proxmox moved the instance's guest to (a migration, HA).</summary>
    public async Task SetNodeAsync(long id, string node, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET node = @node, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, node, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    public async Task SetMacAsync(long id, string mac, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET mac = @mac, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, mac, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    public async Task SetDeadlineAsync(long id, DateTimeOffset? deadline, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET deadline_at = @deadline, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, deadline, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    public async Task SetIpAsync(long id, string ip, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET ip = @ip, updated_at = @now WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, ip, now = time.GetUtcNow() }, cancellationToken: ct));
    }
}
