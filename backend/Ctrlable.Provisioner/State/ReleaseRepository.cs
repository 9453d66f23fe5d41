using Dapper;

namespace Ctrlable.Provisioner.State;

public sealed record ReleaseRow(string Name, string CommunityScriptsRef, string? CommunityScriptsCommit, bool IsActive, DateTimeOffset? ActivatedAt, DateTimeOffset CreatedAt);

public sealed record TemplateRow(long Id, string Release, string Name, string Kind, long Vmid, string Node, string BuilderRef, string? BuilderCommit, string? AppVersion, DateTimeOffset BuiltAt);

/// <summary>Releases known to this host and the templates built from them.</summary>
public sealed class ReleaseRepository(Database database)
{
    private const string ReleaseColumns = """
        name AS Name, community_scripts_ref AS CommunityScriptsRef, community_scripts_commit AS CommunityScriptsCommit,
        is_active AS IsActive, activated_at AS ActivatedAt, created_at AS CreatedAt
        """;

    public async Task<IReadOnlyList<ReleaseRow>> ListAsync(CancellationToken ct = default)
    {
        var sql = $"SELECT {ReleaseColumns} FROM releases ORDER BY name;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<ReleaseRow>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    public async Task<string?> GetActiveNameAsync(CancellationToken ct = default)
    {
        const string sql = "SELECT name FROM releases WHERE is_active = 1;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(sql, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<TemplateRow>> ListTemplatesAsync(string release, CancellationToken ct = default)
    {
        const string sql = """
            SELECT id AS Id, release AS Release, name AS Name, kind AS Kind, vmid AS Vmid, node AS Node,
                   builder_ref AS BuilderRef, builder_commit AS BuilderCommit, app_version AS AppVersion, built_at AS BuiltAt
            FROM templates WHERE release = @release ORDER BY name;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<TemplateRow>(new CommandDefinition(sql, new { release }, cancellationToken: ct))];
    }
}
