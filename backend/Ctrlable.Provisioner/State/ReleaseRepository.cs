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

    /// <summary>
    /// Records a release whose templates all exist on this host and makes it the active release, in one
    /// transaction: deploys switch to it atomically, or not at all.
    /// </summary>
    public async Task ActivateAsync(string release, string communityScriptsRef, string? communityScriptsCommit, IReadOnlyList<TemplateRow> templates, DateTimeOffset now, CancellationToken ct)
    {
        const string upsertRelease = """
            INSERT INTO releases (name, community_scripts_ref, community_scripts_commit, created_at)
            VALUES (@release, @communityScriptsRef, @communityScriptsCommit, @now)
            ON CONFLICT (name) DO UPDATE SET community_scripts_ref = excluded.community_scripts_ref,
                                             community_scripts_commit = excluded.community_scripts_commit;
            """;
        const string upsertTemplate = """
            INSERT INTO templates (release, name, kind, vmid, node, builder_ref, builder_commit, app_version, built_at)
            VALUES (@Release, @Name, @Kind, @Vmid, @Node, @BuilderRef, @BuilderCommit, @AppVersion, @BuiltAt)
            ON CONFLICT (release, name) DO UPDATE SET kind = excluded.kind, vmid = excluded.vmid, node = excluded.node,
                builder_ref = excluded.builder_ref, builder_commit = excluded.builder_commit,
                app_version = excluded.app_version, built_at = excluded.built_at;
            """;
        const string deactivate = "UPDATE releases SET is_active = 0, activated_at = NULL WHERE is_active = 1 AND name <> @release;";
        const string activate = "UPDATE releases SET is_active = 1, activated_at = @now WHERE name = @release;";

        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(upsertRelease, new { release, communityScriptsRef, communityScriptsCommit, now }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(upsertTemplate, templates, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(deactivate, new { release }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(activate, new { release, now }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    /// <summary>
    /// Records templates of a release that is not (or not yet) complete on this host, without touching which
    /// release is active: a failed build keeps the previous active release, and the next build of this release
    /// skips what was built.
    /// </summary>
    public async Task RecordTemplatesAsync(string release, string communityScriptsRef, string? communityScriptsCommit, IReadOnlyList<TemplateRow> templates, DateTimeOffset now, CancellationToken ct)
    {
        const string upsertRelease = """
            INSERT INTO releases (name, community_scripts_ref, community_scripts_commit, created_at)
            VALUES (@release, @communityScriptsRef, @communityScriptsCommit, @now)
            ON CONFLICT (name) DO UPDATE SET community_scripts_ref = excluded.community_scripts_ref,
                                             community_scripts_commit = excluded.community_scripts_commit
            WHERE releases.is_active = 0;
            """;
        const string upsertTemplate = """
            INSERT INTO templates (release, name, kind, vmid, node, builder_ref, builder_commit, app_version, built_at)
            VALUES (@Release, @Name, @Kind, @Vmid, @Node, @BuilderRef, @BuilderCommit, @AppVersion, @BuiltAt)
            ON CONFLICT (release, name) DO UPDATE SET kind = excluded.kind, vmid = excluded.vmid, node = excluded.node,
                builder_ref = excluded.builder_ref, builder_commit = excluded.builder_commit,
                app_version = excluded.app_version, built_at = excluded.built_at;
            """;

        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(upsertRelease, new { release, communityScriptsRef, communityScriptsCommit, now }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(upsertTemplate, templates, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
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
