using System.Text.Json;
using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Build;

/// <summary>A builds row as stored (the ticket itself never is: only its SHA-256).</summary>
public sealed record BuildRow(
    long Id,
    string Release,
    string State,
    string Host,
    string? RequestedBy,
    bool Forced,
    string? CommunityScriptsRef,
    string? CommunityScriptsCommit,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    DateTimeOffset? TicketExpiresAt,
    string ProgressJson,
    string? TemplatesJson);

/// <summary>Builds and their logs.</summary>
public sealed class BuildRepository(Database database)
{
    private static readonly JsonSerializerOptions Json = CreateJson();

    private const string Columns = """
        id AS Id, release AS Release, state AS State, host AS Host, requested_by AS RequestedBy, forced AS Forced,
        community_scripts_ref AS CommunityScriptsRef, community_scripts_commit AS CommunityScriptsCommit,
        started_at AS StartedAt, finished_at AS FinishedAt, error AS Error, ticket_expires_at AS TicketExpiresAt,
        progress_json AS ProgressJson, templates_json AS TemplatesJson
        """;

    /// <summary>
    /// Inserts a running build; a running build on the same host makes this throw a unique violation.
    /// <paramref name="templates"/>: the template names a rebuild of some templates was asked for, null for the whole release.
    /// </summary>
    public async Task<long> CreateAsync(
        string release, string host, string? requestedBy, bool forced, string communityScriptsRef, string ticketHash,
        DateTimeOffset ticketExpiresAt, IReadOnlyList<BuildTemplateProgress> progress, DateTimeOffset now, CancellationToken ct,
        IReadOnlyList<string>? templates = null)
    {
        const string sql = """
            INSERT INTO builds (release, state, started_at, host, requested_by, forced, community_scripts_ref, ticket_hash, ticket_expires_at, progress_json, templates_json)
            VALUES (@release, 'running', @now, @host, @requestedBy, @forced, @communityScriptsRef, @ticketHash, @ticketExpiresAt, @progressJson, @templatesJson)
            RETURNING id;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, new
        {
            release,
            now,
            host,
            requestedBy,
            forced,
            communityScriptsRef,
            ticketHash,
            ticketExpiresAt,
            progressJson = Serialize(progress),
            templatesJson = templates is null ? null : JsonSerializer.Serialize(templates, Json),
        }, cancellationToken: ct));
    }

    public async Task<BuildRow?> FindAsync(long id, CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM builds WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<BuildRow>(new CommandDefinition(sql, new { id }, cancellationToken: ct));
    }

    public async Task<BuildRow?> FindRunningAsync(string host, CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM builds WHERE host = @host AND state = 'running';";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<BuildRow>(new CommandDefinition(sql, new { host }, cancellationToken: ct));
    }

    /// <summary>The running build whose ticket has this hash and has not expired.</summary>
    public async Task<BuildRow?> FindByTicketAsync(string ticketHash, DateTimeOffset now, CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM builds WHERE ticket_hash = @ticketHash AND state = 'running';";
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<BuildRow>(new CommandDefinition(sql, new { ticketHash }, cancellationToken: ct));
        return row is not null && row.TicketExpiresAt > now ? row : null;
    }

    /// <summary>Newest first; optionally one release's.</summary>
    public async Task<IReadOnlyList<BuildRow>> ListAsync(string? release, int limit, CancellationToken ct = default)
    {
        var sql = $"SELECT {Columns} FROM builds WHERE (@release IS NULL OR release = @release) ORDER BY id DESC LIMIT @limit;";
        await using var connection = await database.OpenAsync(ct);
        return [.. await connection.QueryAsync<BuildRow>(new CommandDefinition(sql, new { release, limit }, cancellationToken: ct))];
    }

    /// <summary>Records one use of the ticket ("plan" or "secret"); false when it was used for that already.</summary>
    public async Task<bool> UseTicketAsync(long id, TicketUse use, DateTimeOffset now, CancellationToken ct = default)
    {
        var sql = use == TicketUse.Plan
            ? "UPDATE builds SET plan_fetched_at = @now WHERE id = @id AND state = 'running' AND plan_fetched_at IS NULL;"
            : "UPDATE builds SET secret_issued_at = @now WHERE id = @id AND state = 'running' AND secret_issued_at IS NULL;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { id, now }, cancellationToken: ct)) == 1;
    }

    public async Task UpdateProgressAsync(long id, IReadOnlyList<BuildTemplateProgress> progress, string? commit, CancellationToken ct = default)
    {
        const string sql = "UPDATE builds SET progress_json = @progressJson, community_scripts_commit = COALESCE(@commit, community_scripts_commit) WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, progressJson = Serialize(progress), commit }, cancellationToken: ct));
    }

    public async Task AppendLogAsync(long id, string chunk, CancellationToken ct = default)
    {
        const string sql = "UPDATE builds SET log = log || @chunk WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id, chunk }, cancellationToken: ct));
    }

    public async Task<string> GetLogAsync(long id, CancellationToken ct = default)
    {
        const string sql = "SELECT log FROM builds WHERE id = @id;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(sql, new { id }, cancellationToken: ct)) ?? "";
    }

    /// <summary>Ends a build: its state, error and exit code; the ticket is cleared, so it can never be used again.</summary>
    public async Task FinishAsync(long id, BuildState state, string? error, int? exitCode, IReadOnlyList<BuildTemplateProgress> progress, DateTimeOffset now, CancellationToken ct = default)
    {
        const string sql = """
            UPDATE builds SET state = @state, error = @error, exit_code = @exitCode, finished_at = @now, progress_json = @progressJson,
                              ticket_hash = NULL, ticket_expires_at = NULL
            WHERE id = @id;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            id,
            state = state == BuildState.Succeeded ? "succeeded" : "failed",
            error,
            exitCode,
            now,
            progressJson = Serialize(progress),
        }, cancellationToken: ct));
    }

    /// <summary>
    /// Builds left running by an orchestrator that stopped: they cannot be followed any more. Their templates without a
    /// verdict are failed with <paramref name="templateError"/>, as a build that ends does with its own.
    /// </summary>
    public async Task<int> FailAbandonedAsync(string error, string templateError, DateTimeOffset now, CancellationToken ct = default)
    {
        const string select = "SELECT id AS Id, progress_json AS ProgressJson FROM builds WHERE state = 'running';";
        const string sql = """
            UPDATE builds SET state = 'failed', error = @error, finished_at = @now, progress_json = @progressJson, ticket_hash = NULL, ticket_expires_at = NULL
            WHERE id = @id AND state = 'running';
            """;
        await using var connection = await database.OpenAsync(ct);
        var count = 0;
        foreach (var (id, progressJson) in await connection.QueryAsync<(long Id, string ProgressJson)>(new CommandDefinition(select, cancellationToken: ct)))
        {
            var progress = BuildTemplateProgress.FailUnfinished(JsonSerializer.Deserialize<List<BuildTemplateProgress>>(progressJson, Json) ?? [], templateError);
            count += await connection.ExecuteAsync(new CommandDefinition(sql, new { id, error, now, progressJson = Serialize(progress) }, cancellationToken: ct));
        }

        return count;
    }

    public static BuildSummary ToSummary(BuildRow row) => new(
        row.Id,
        row.Release,
        row.State switch
        {
            "succeeded" => BuildState.Succeeded,
            "failed" => BuildState.Failed,
            _ => BuildState.Running,
        },
        row.Forced,
        row.RequestedBy,
        row.CommunityScriptsRef,
        row.CommunityScriptsCommit,
        row.StartedAt,
        row.FinishedAt,
        row.Error,
        JsonSerializer.Deserialize<List<BuildTemplateProgress>>(row.ProgressJson, Json) ?? [],
        RequestedTemplates(row));

    /// <summary>The template names a build was asked for, or null when it was asked for the whole release.</summary>
    public static IReadOnlyList<string>? RequestedTemplates(BuildRow row) =>
        row.TemplatesJson is null ? null : JsonSerializer.Deserialize<List<string>>(row.TemplatesJson, Json);

    private static string Serialize(IReadOnlyList<BuildTemplateProgress> progress) => JsonSerializer.Serialize(progress, Json);

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        JsonDefaults.Configure(options);
        return options;
    }
}

public enum TicketUse { Plan, Secret }
