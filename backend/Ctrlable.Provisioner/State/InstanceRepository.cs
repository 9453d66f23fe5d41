using Dapper;

namespace Ctrlable.Provisioner.State;

public sealed record ProjectRow(long Id, string Name, string Slug, string SettingsJson, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record InstanceRow(
    long Id,
    long ProjectId,
    string Type,
    string Hostname,
    long? Vmid,
    string? Node,
    string? Mac,
    string? Ip,
    string State,
    string? Release,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>Projects (customer sites) and the guests deployed for them.</summary>
public sealed class InstanceRepository(Database database)
{
    public async Task<IReadOnlyList<ProjectRow>> ListProjectsAsync(CancellationToken ct)
    {
        const string sql = """
            SELECT id AS Id, name AS Name, slug AS Slug, settings_json AS SettingsJson, created_at AS CreatedAt, updated_at AS UpdatedAt
            FROM projects ORDER BY name;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<ProjectRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    /// <summary>Every instance that has not been deleted, across projects.</summary>
    public async Task<IReadOnlyList<InstanceRow>> ListLiveAsync(CancellationToken ct)
    {
        const string sql = """
            SELECT id AS Id, project_id AS ProjectId, type AS Type, hostname AS Hostname, vmid AS Vmid, node AS Node, mac AS Mac,
                   ip AS Ip, state AS State, release AS Release, error AS Error, created_at AS CreatedAt, updated_at AS UpdatedAt
            FROM instances WHERE state <> 'deleted' ORDER BY project_id, type, hostname;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<InstanceRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }
}
