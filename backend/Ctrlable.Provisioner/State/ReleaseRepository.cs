using Dapper;

namespace Ctrlable.Provisioner.State;

public sealed record ReleaseRow(string Name, string CommunityScriptsRef, string? CommunityScriptsCommit, bool IsActive, DateTimeOffset? ActivatedAt, DateTimeOffset CreatedAt);

/// <summary>A template recorded for a release; <paramref name="HaosDigest"/> (vm/haos-vm.sh only): where the verified image digest came from, "manifest" or "github".</summary>
public sealed record TemplateRow(long Id, string Release, string Name, string Kind, long Vmid, string Node, string BuilderRef, string? BuilderCommit, string? AppVersion, DateTimeOffset BuiltAt, string? HaosDigest = null);

/// <summary>
/// The proof of ownership a build's run reported for a template it created (or, for a kept one, its ledger backs): the
/// run id in the template's description marker and the random MAC address on its net0. Null values: no proof.
/// </summary>
public sealed record TemplateProof(string Name, long? BuildId, string? RunId, string? Mac);

/// <summary>A recorded template with the proof of ownership its build recorded (null: none, it is never removed).</summary>
public sealed record OwnedTemplate(string Name, string Kind, long Vmid, string Node, long? BuildId, string? RunId, string? Mac)
{
    /// <summary>The build's ownership proof (run id and MAC) was recorded: the only templates the orchestrator removes.</summary>
    public bool IsProven => RunId is not null && Mac is not null;
}

/// <summary>When the templates of a release were removed, and by whom (null: never, or built again since).</summary>
public sealed record TemplatesRemoval(DateTimeOffset? RemovedAt, string? RemovedBy);

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
    /// <remarks>
    /// <paramref name="proofs"/>: per template the proof of ownership the run reported (a null proof is written too, so
    /// a template replaced without one never keeps the proof of the one it replaced). Building a release again clears
    /// its "templates removed" mark.
    /// </remarks>
    public async Task ActivateAsync(string release, string communityScriptsRef, string? communityScriptsCommit, IReadOnlyList<TemplateRow> templates, DateTimeOffset now, CancellationToken ct,
        IReadOnlyList<TemplateProof>? proofs = null)
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
        const string deactivate = "UPDATE releases SET is_active = 0, activated_at = NULL, superseded_at = @now WHERE is_active = 1 AND name <> @release;";
        const string activate = """
            UPDATE releases SET is_active = 1, activated_at = @now, superseded_at = NULL, templates_removed_at = NULL, templates_removed_by = NULL
            WHERE name = @release;
            """;
        const string proof = "UPDATE templates SET build_id = @BuildId, run_id = @RunId, mac = @Mac WHERE release = @release AND name = @Name;";

        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(upsertRelease, new { release, communityScriptsRef, communityScriptsCommit, now }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(upsertTemplate, templates, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(deactivate, new { release, now }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(activate, new { release, now }, tx, cancellationToken: ct));
        foreach (var p in proofs ?? [])
        {
            await connection.ExecuteAsync(new CommandDefinition(proof, new { release, p.Name, p.BuildId, p.RunId, p.Mac }, tx, cancellationToken: ct));
        }

        await tx.CommitAsync(ct);
    }

    /// <summary>The recorded templates of a release with the proof of ownership their builds recorded.</summary>
    public async Task<IReadOnlyList<OwnedTemplate>> ListOwnedTemplatesAsync(string release, CancellationToken ct)
    {
        const string sql = """
            SELECT name AS Name, kind AS Kind, vmid AS Vmid, node AS Node, build_id AS BuildId, run_id AS RunId, mac AS Mac
            FROM templates WHERE release = @release ORDER BY name;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<OwnedTemplate>(new CommandDefinition(sql, new { release }, cancellationToken: ct))];
    }

    /// <summary>
    /// Forgets one template that was destroyed; when it was the release's last, marks the release "templates removed"
    /// (one transaction). Never for the active release (the WHERE clause): a build that made it active meanwhile wins.
    /// Returns false when nothing was forgotten.
    /// </summary>
    public async Task<bool> ForgetRemovedTemplateAsync(string release, string name, long vmid, DateTimeOffset now, string removedBy, CancellationToken ct)
    {
        const string forget = """
            DELETE FROM templates WHERE release = @release AND name = @name AND vmid = @vmid
              AND NOT EXISTS (SELECT 1 FROM releases WHERE name = @release AND is_active = 1);
            """;
        const string mark = """
            UPDATE releases SET templates_removed_at = @now, templates_removed_by = @removedBy
            WHERE name = @release AND is_active = 0 AND NOT EXISTS (SELECT 1 FROM templates WHERE release = @release);
            """;
        await using var connection = await database.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var forgotten = await connection.ExecuteAsync(new CommandDefinition(forget, new { release, name, vmid }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(mark, new { release, now, removedBy }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return forgotten > 0;
    }

    /// <summary>Instances of the release whose guest is being cloned (or about to be) from one of its templates.</summary>
    public async Task<IReadOnlyList<(long Id, string? Hostname, long? TemplateVmid)>> ListCloningInstancesAsync(string release, CancellationToken ct)
    {
        const string sql = """
            SELECT id, hostname, template_vmid FROM instances
            WHERE release = @release AND state IN ('pending', 'cloning') ORDER BY id;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<(long, string?, long?)>(new CommandDefinition(sql, new { release }, cancellationToken: ct))];
    }

    /// <summary>
    /// Releases that are not active, with when they stopped being active: a release without that moment (not active
    /// before migration 019) gets <paramref name="now"/> first, so its templates are kept the full grace period.
    /// </summary>
    public async Task<IReadOnlyList<(string Name, DateTimeOffset SupersededAt)>> ListSupersededAsync(DateTimeOffset now, CancellationToken ct)
    {
        const string sql = """
            UPDATE releases SET superseded_at = @now WHERE is_active = 0 AND superseded_at IS NULL;
            SELECT name, superseded_at FROM releases WHERE is_active = 0 ORDER BY name;
            """;
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<(string, DateTimeOffset)>(new CommandDefinition(sql, new { now }, cancellationToken: ct))];
    }

    /// <summary>When the release stopped being the active one (null: it is active, unknown, or not seen so since migration 019).</summary>
    public async Task<DateTimeOffset?> GetSupersededAtAsync(string release, CancellationToken ct)
    {
        const string sql = "SELECT superseded_at FROM releases WHERE name = @release AND is_active = 0;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<DateTimeOffset?>(new CommandDefinition(sql, new { release }, cancellationToken: ct));
    }

    /// <summary>When the release's templates were removed (null values: never, or built again since).</summary>
    public async Task<TemplatesRemoval> GetTemplatesRemovalAsync(string release, CancellationToken ct)
    {
        const string sql = "SELECT templates_removed_at AS RemovedAt, templates_removed_by AS RemovedBy FROM releases WHERE name = @release;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<TemplatesRemoval>(new CommandDefinition(sql, new { release }, cancellationToken: ct))
            ?? new TemplatesRemoval(null, null);
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
