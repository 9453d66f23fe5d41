using System.Text.Json;
using Dapper;

namespace Ctrlable.Provisioner.State;

/// <summary>
/// A move of an instance to <paramref name="To"/> with <paramref name="Message"/>. <see cref="Upid"/> and <see cref="Error"/>
/// replace the stored ones (null clears them); <see cref="Ip"/> null keeps the stored address.
/// </summary>
public sealed record Transition(string To, string Message)
{
    /// <summary>Only from one of these states (null: from any); a move whose guard does not hold changes nothing.</summary>
    public IReadOnlyCollection<string>? From { get; init; }

    public string? Upid { get; init; }
    public string? Error { get; init; }
    public string? Ip { get; init; }

    /// <summary>Installed versions (JSON app → version) reported since the first boot (an upgrade); null keeps them.</summary>
    public string? Versions { get; init; }

    /// <summary>The release the instance runs from now on (an upgrade's last step); null keeps it.</summary>
    public string? Release { get; init; }

    /// <summary>The guest's first-boot report (complete): recorded with the time it came.</summary>
    public FirstBootReport? Report { get; init; }

    /// <summary>The first boot is over: its deadline no longer applies.</summary>
    public bool ClearDeadline { get; init; }

    /// <summary>What the history row says (default: <see cref="Message"/>).</summary>
    public string? Note { get; init; }

    /// <summary>Who moved it, for the history row: the guest's address, "deploy", ...</summary>
    public string Source { get; init; } = "deploy";
}

/// <summary>What a guest reported at the end of its first boot: its message and the installed versions (JSON object app → version).</summary>
public sealed record FirstBootReport(string Message, string Versions);

/// <summary>
/// The one owner of instance state (<c>instances.state</c>) and of the changes the live view shows. Every change is one
/// transaction: the row, its history row in <c>instance_state_changes</c> (every change of state, and the recorded
/// changes of an active instance), and — through migration 008's triggers on <c>instances</c> — the platform outbox.
/// Once committed, the change is published on <see cref="InstanceChanges"/>, in commit order. Guarded moves (only from
/// given states) return whether they applied; one that did not writes and publishes nothing.
/// </summary>
public sealed class InstanceTransitions(Database database, InstanceChanges changes, TimeProvider time)
{
    /// <summary>Commits and publishes one change at a time, so subscribers see changes in the order they were committed.</summary>
    private readonly SemaphoreSlim _order = new(1, 1);

    /// <summary>Moves the instance (see <see cref="Transition"/>); false when it does not exist or the guard does not hold.</summary>
    public async Task<bool> MoveAsync(long id, Transition move, CancellationToken ct)
    {
        const string sql = """
            UPDATE instances SET state = @To, message = @Message, upid = @Upid, error = @Error, ip = coalesce(@Ip, ip), release = coalesce(@Release, release),
                   personalising_at = CASE WHEN @To = 'personalising' THEN coalesce(personalising_at, @now) ELSE personalising_at END,
                   firstboot_message = CASE WHEN @reported THEN @reportMessage ELSE firstboot_message END,
                   installed_versions = CASE WHEN @reported THEN @versions ELSE coalesce(@newVersions, installed_versions) END,
                   completed_at = CASE WHEN @reported THEN @now ELSE completed_at END,
                   deadline_at = CASE WHEN @ClearDeadline THEN NULL ELSE deadline_at END,
                   updated_at = @now
            WHERE id = @id AND (@from IS NULL OR state IN (SELECT value FROM json_each(@from)));
            """;
        var parameters = new
        {
            id,
            move.To,
            move.Message,
            move.Upid,
            move.Error,
            move.Ip,
            move.Release,
            newVersions = move.Versions,
            move.ClearDeadline,
            reported = move.Report is not null,
            reportMessage = move.Report?.Message,
            versions = move.Report?.Versions,
            from = move.From is null ? null : JsonSerializer.Serialize(move.From),
            now = time.GetUtcNow(),
        };
        return await CommitAsync(id, sql, parameters, from => from == move.To ? null : (move.Note ?? move.Message), move.Source, ct);
    }

    /// <summary>A new message while the instance is in one of <paramref name="states"/> (no history row; false when it says so already).</summary>
    public async Task<bool> SayAsync(long id, IReadOnlyCollection<string> states, string message, CancellationToken ct)
    {
        const string sql = """
            UPDATE instances SET message = @message, updated_at = @now
            WHERE id = @id AND state IN (SELECT value FROM json_each(@states)) AND message IS NOT @message;
            """;
        return await CommitAsync(id, sql, new { id, message, states = JsonSerializer.Serialize(states), now = time.GetUtcNow() }, _ => null, "", ct);
    }

    /// <summary>
    /// An active instance's guest was seen at another address (under DHCP): <c>ip</c> becomes <paramref name="to"/> and the
    /// history gets a row from active to active with <paramref name="message"/>. False when the instance is no longer
    /// active or its address changed meanwhile (nothing written).
    /// </summary>
    public async Task<bool> RecordAddressChangeAsync(long id, string? from, string to, string message, string source, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET ip = @to, message = @message, updated_at = @now WHERE id = @id AND state = 'active' AND ip IS @from;";
        return await CommitAsync(id, sql, new { id, from, to, message, now = time.GetUtcNow() }, _ => message, source, ct);
    }

    /// <summary>
    /// A warning on an active instance (it keeps running): <c>message</c> and <c>error</c> are set and the history gets a
    /// row from active to active saying <paramref name="error"/>. False when the instance is no longer active.
    /// </summary>
    public async Task<bool> RecordWarningAsync(long id, string message, string error, string source, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET message = @message, error = @error, updated_at = @now WHERE id = @id AND state = 'active';";
        return await CommitAsync(id, sql, new { id, message, error, now = time.GetUtcNow() }, _ => error, source, ct);
    }

    /// <summary>Where the dealer opens the guest's app (Home Assistant's URL once located or followed); no history row.</summary>
    public async Task SetAppUrlAsync(long id, string? appUrl, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET app_url = @appUrl, updated_at = @now WHERE id = @id;";
        await CommitAsync(id, sql, new { id, appUrl, now = time.GetUtcNow() }, _ => null, "", ct);
    }

    /// <summary>
    /// Runs <paramref name="update"/> and, when <paramref name="history"/> gives a message for the state it found, the history
    /// row, in one transaction; then publishes the committed row. False (nothing written or published) when the instance
    /// does not exist or <paramref name="update"/> changed no row.
    /// </summary>
    private async Task<bool> CommitAsync(long id, string update, object parameters, Func<string, string?> history, string source, CancellationToken ct)
    {
        const string current = "SELECT state FROM instances WHERE id = @id;";
        const string record = """
            INSERT INTO instance_state_changes (instance_id, at, from_state, to_state, message, source)
            VALUES (@id, @UpdatedAt, @from, @State, @message, @source);
            """;
        var select = $"SELECT {InstanceRepository.InstanceColumns} FROM instances WHERE id = @id;";

        await _order.WaitAsync(ct);
        try
        {
            await using var connection = await database.OpenAsync(ct);
            // BEGIN IMMEDIATE: the state read here is the one the update changes (no other writer in between).
            await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, ct);
            if (await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(current, new { id }, tx, cancellationToken: ct)) is not { } from
                || await connection.ExecuteAsync(new CommandDefinition(update, parameters, tx, cancellationToken: ct)) == 0)
            {
                return false;
            }

            var row = await connection.QuerySingleAsync<InstanceRow>(new CommandDefinition(select, new { id }, tx, cancellationToken: ct));
            var message = history(from);
            if (message is not null)
            {
                await connection.ExecuteAsync(new CommandDefinition(record, new { id, row.UpdatedAt, from, row.State, message, source }, tx, cancellationToken: ct));
            }

            await tx.CommitAsync(ct);
            changes.Publish(InstanceChange.Of(row, from, message, row.UpdatedAt));
            return true;
        }
        finally
        {
            _order.Release();
        }
    }
}
