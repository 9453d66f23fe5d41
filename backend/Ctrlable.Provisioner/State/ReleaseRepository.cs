using Dapper;

namespace Ctrlable.Provisioner.State;

public sealed record ReleaseRow(string Name, string CommunityScriptsRef, string? CommunityScriptsCommit, bool IsActive, DateTimeOffset? ActivatedAt, DateTimeOffset CreatedAt);

/// <summary>A template recorded for a release; <paramref name="HaosDigest"/> (vm/haos-vm.sh only): where the verified image digest came from, "manifest" or "github".</summary>
public sealed record TemplateRow(long Id, string Release, string Name, string Kind, long Vmid, string Node, string BuilderRef, string? BuilderCommit, string? AppVersion, DateTimeOffset BuiltAt, string? HaosDigest = null);

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
    /// Records templates of a release that a build made or kept on this host and makes that release the active one,
    /// in one transaction: deploys switch to it atomically, or not at all. At least one template is enough (SPEC §8a
    /// "Activation per template"): what the release lacks is unavailable until it is built. activated_at is stamped on
    /// every call, so the platform learns of templates added to the active release too.
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
            INSERT INTO templates (release, name, kind, vmid, node, builder_ref, builder_commit, app_version, built_at, haos_digest)
            VALUES (@Release, @Name, @Kind, @Vmid, @Node, @BuilderRef, @BuilderCommit, @AppVersion, @BuiltAt, @HaosDigest)
            ON CONFLICT (release, name) DO UPDATE SET kind = excluded.kind, vmid = excluded.vmid, node = excluded.node,
                builder_ref = excluded.builder_ref, builder_commit = excluded.builder_commit,
                app_version = excluded.app_version, built_at = excluded.built_at, haos_digest = excluded.haos_digest;
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
    /// Forgets templates of a release that are no longer there to clone: a forced rebuild removes a template before it
    /// builds it again, so when that build fails the old record would point at nothing.
    /// </summary>
    public async Task ForgetTemplatesAsync(string release, IReadOnlyList<string> names, CancellationToken ct)
    {
        const string sql = "DELETE FROM templates WHERE release = @release AND name IN @names;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { release, names }, cancellationToken: ct));
    }

    /// <summary>Which templates every release has on this host (for the release list's counts).</summary>
    public async Task<IReadOnlyList<(string Release, string Name)>> ListTemplateNamesAsync(CancellationToken ct = default)
    {
        const string sql = "SELECT release, name FROM templates ORDER BY release, name;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<(string Release, string Name)>(new CommandDefinition(sql, cancellationToken: ct))];
    }

    public async Task<IReadOnlyList<TemplateRow>> ListTemplatesAsync(string release, CancellationToken ct = default)
    {
        const string sql = """
            SELECT id AS Id, release AS Release, name AS Name, kind AS Kind, vmid AS Vmid, node AS Node,
                   builder_ref AS BuilderRef, builder_commit AS BuilderCommit, app_version AS AppVersion, built_at AS BuiltAt,
                   haos_digest AS HaosDigest
            FROM templates WHERE release = @release ORDER BY name;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<TemplateRow>(new CommandDefinition(sql, new { release }, cancellationToken: ct))];
    }
}
