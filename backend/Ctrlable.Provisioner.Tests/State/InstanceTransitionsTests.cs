using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Tests.State;

/// <summary>The one owner of instance state: the row and its history in one transaction, then one published change.</summary>
public sealed class InstanceTransitionsTests : IDisposable
{
    private readonly ProvisionerApp _app = new();

    public void Dispose() => _app.Dispose();

    private InstanceTransitions Transitions => _app.Service<InstanceTransitions>();
    private InstanceChanges Changes => _app.Service<InstanceChanges>();

    [Fact]
    public async Task A_move_writes_the_row_and_its_history_row_and_is_published_only_once_committed()
    {
        var id = await InsertInstanceAsync(InstanceStates.Pending);
        var seen = new List<(InstanceChange Change, string? StoredState, int HistoryRows)>();
        // The handler runs on the publisher's thread: what another connection reads there is what was committed.
        using (Changes.Subscribe(change => seen.Add((change, ReadCommitted(id).State, ReadCommitted(id).History))))
        {
            (await Transitions.MoveAsync(id, new Transition(InstanceStates.Cloning, "Cloning") { Upid = "UPID:1", Source = "deploy" }, CancellationToken.None)).Should().BeTrue();
        }

        var (change, stored, history) = seen.Should().ContainSingle().Subject;
        change.From.Should().Be(InstanceStates.Pending);
        change.To.Should().Be(InstanceStates.Cloning);
        change.Instance!.Upid.Should().Be("UPID:1", "the change carries the row as committed");
        stored.Should().Be(InstanceStates.Cloning, "published after the commit");
        history.Should().Be(1, "the history row is committed with the state");
        (await HistoryAsync(id)).Should().Equal("pending>cloning: Cloning (deploy)");
    }

    [Fact]
    public async Task A_history_row_that_cannot_be_written_leaves_the_instance_as_it_was_and_nothing_is_published()
    {
        var id = await InsertInstanceAsync(InstanceStates.Waiting);
        await using (var connection = await _app.Service<Database>().OpenAsync())
        {
            await connection.ExecuteAsync("CREATE TRIGGER refuse_history BEFORE INSERT ON instance_state_changes BEGIN SELECT RAISE(ABORT, 'history refused'); END;");
        }

        var seen = new List<InstanceChange>();
        using (Changes.Subscribe(seen.Add))
        {
            var move = () => Transitions.MoveAsync(id, new Transition(InstanceStates.Failed, "Broke") { Error = "boom" }, CancellationToken.None);
            (await move.Should().ThrowAsync<SqliteException>()).Which.Message.Should().Contain("history refused");
        }

        seen.Should().BeEmpty();
        var row = (await _app.Service<InstanceRepository>().GetAsync(id, CancellationToken.None))!;
        row.State.Should().Be(InstanceStates.Waiting);
        row.Error.Should().BeNull();
    }

    [Fact]
    public async Task A_guarded_move_whose_guard_does_not_hold_writes_and_publishes_nothing()
    {
        var id = await InsertInstanceAsync(InstanceStates.Active);
        var seen = new List<InstanceChange>();
        using (Changes.Subscribe(seen.Add))
        {
            var firstBoot = new[] { InstanceStates.Waiting, InstanceStates.Personalising };
            (await Transitions.MoveAsync(id, new Transition(InstanceStates.Failed, "No first-boot report") { From = firstBoot }, CancellationToken.None)).Should().BeFalse();
            (await Transitions.SayAsync(id, firstBoot, "First boot: the guest called", CancellationToken.None)).Should().BeFalse();
            (await Transitions.MoveAsync(id + 1000, new Transition(InstanceStates.Failed, "no such instance"), CancellationToken.None)).Should().BeFalse();
        }

        seen.Should().BeEmpty();
        (await _app.Service<InstanceRepository>().GetAsync(id, CancellationToken.None))!.State.Should().Be(InstanceStates.Active);
        (await HistoryAsync(id)).Should().BeEmpty();
    }

    [Fact]
    public async Task Every_change_of_state_is_in_the_history_a_new_message_within_a_state_is_published_without_one()
    {
        var id = await InsertInstanceAsync(InstanceStates.Pending);
        var seen = new List<string>();
        using (Changes.Subscribe(change => seen.Add($"{change.From}>{change.To}: {change.Instance!.Message}")))
        {
            await Transitions.MoveAsync(id, new Transition(InstanceStates.Configuring, "Cloned"), CancellationToken.None);
            await Transitions.MoveAsync(id, new Transition(InstanceStates.Configuring, "Setting a fresh MAC address"), CancellationToken.None);
            (await Transitions.SayAsync(id, [InstanceStates.Configuring], "Still configuring", CancellationToken.None)).Should().BeTrue();
            (await Transitions.SayAsync(id, [InstanceStates.Configuring], "Still configuring", CancellationToken.None)).Should().BeFalse("it says so already");
            await Transitions.MoveAsync(id, new Transition(InstanceStates.Active, "Running"), CancellationToken.None);
            (await Transitions.RecordWarningAsync(id, "Running; its MQTT broker moved", "set mqtt.server", "test", CancellationToken.None)).Should().BeTrue();
        }

        seen.Should().Equal(
            "pending>configuring: Cloned",
            "configuring>configuring: Setting a fresh MAC address",
            "configuring>configuring: Still configuring",
            "configuring>active: Running",
            "active>active: Running; its MQTT broker moved");
        (await HistoryAsync(id)).Should().Equal(
            "pending>configuring: Cloned (deploy)",
            "configuring>active: Running (deploy)",
            "active>active: set mqtt.server (test)");
    }

    [Fact]
    public async Task Waiting_for_a_state_the_instance_is_in_already_returns_at_once_and_otherwise_with_the_change()
    {
        var id = await InsertInstanceAsync(InstanceStates.Active);
        (await Changes.WaitForAsync(id, [InstanceStates.Active], CancellationToken.None)).To.Should().Be(InstanceStates.Active);
        (await Changes.WaitForAsync(id + 1000, [InstanceStates.Deleted], CancellationToken.None)).To.Should().Be(InstanceStates.Deleted, "a missing instance counts as deleted");

        var waiting = await InsertInstanceAsync(InstanceStates.Waiting);
        var wait = Changes.WaitForAsync(waiting, [InstanceStates.Active, InstanceStates.Failed], CancellationToken.None);
        await Transitions.MoveAsync(waiting, new Transition(InstanceStates.Personalising, "Assignment fetched"), CancellationToken.None);
        wait.IsCompleted.Should().BeFalse();
        await Transitions.MoveAsync(waiting, new Transition(InstanceStates.Failed, "First boot failed") { Note = "boom" }, CancellationToken.None);

        var change = await wait.WaitAsync(TimeSpan.FromSeconds(5));
        change.Message.Should().Be("boom");
        change.From.Should().Be(InstanceStates.Personalising);

        var seen = new List<InstanceChange>();
        using (Changes.Subscribe(seen.Add))
        {
        }

        await Transitions.MoveAsync(id, new Transition(InstanceStates.Deleting, "Deleting"), CancellationToken.None);
        seen.Should().BeEmpty("a disposed subscription receives nothing");
        using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        var never = () => Changes.WaitForAsync(id, [InstanceStates.Failed], cancelled.Token);
        await never.Should().ThrowAsync<OperationCanceledException>();
    }

    private (string? State, int History) ReadCommitted(long id)
    {
        using var connection = new SqliteConnection($"Data Source={_app.Service<Database>().Path}");
        connection.Open();
        return (connection.ExecuteScalar<string?>("SELECT state FROM instances WHERE id = @id;", new { id }),
            connection.ExecuteScalar<int>("SELECT count(*) FROM instance_state_changes WHERE instance_id = @id;", new { id }));
    }

    private async Task<List<string>> HistoryAsync(long id)
    {
        await using var connection = await _app.Service<Database>().OpenAsync();
        return [.. await connection.QueryAsync<string>(
            "SELECT from_state || '>' || to_state || ': ' || message || ' (' || source || ')' FROM instance_state_changes WHERE instance_id = @id ORDER BY id;", new { id })];
    }

    private async Task<long> InsertInstanceAsync(string state)
    {
        await using var connection = await _app.Service<Database>().OpenAsync();
        var now = DateTimeOffset.UtcNow;
        var project = await connection.ExecuteScalarAsync<long?>("SELECT id FROM projects WHERE slug = 'owner';")
            ?? await connection.ExecuteScalarAsync<long>("INSERT INTO projects (name, slug, created_at, updated_at) VALUES ('Owner', 'owner', @now, @now) RETURNING id;", new { now });
        return await connection.ExecuteScalarAsync<long>(
            "INSERT INTO instances (project_id, type, hostname, state, created_at, updated_at) VALUES (@project, 'zwavejs', @hostname, @state, @now, @now) RETURNING id;",
            new { project, hostname = $"owner-{Guid.NewGuid():N}"[..20], state, now });
    }
}
