using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;

namespace Ctrlable.Provisioner.Tests.Provision;

public sealed class InstanceEventsTests : IDisposable
{
    private readonly ProvisionerApp _app = new();

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task Waiting_for_a_state_the_instance_is_in_already_returns_at_once_and_otherwise_with_the_change()
    {
        var events = _app.Service<IInstanceEvents>();
        var id = await InsertInstanceAsync(InstanceStates.Active);
        var seen = new List<InstanceStateChange>();
        using (events.Subscribe(seen.Add))
        {
            (await events.WaitForAsync(id, [InstanceStates.Active], CancellationToken.None)).To.Should().Be(InstanceStates.Active);
            (await events.WaitForAsync(id + 1000, [InstanceStates.Deleted], CancellationToken.None)).To.Should().Be(InstanceStates.Deleted, "a missing instance counts as deleted");

            var waiting = await InsertInstanceAsync(InstanceStates.Waiting);
            var wait = events.WaitForAsync(waiting, [InstanceStates.Active, InstanceStates.Failed], CancellationToken.None);
            events.Publish(new InstanceStateChange(waiting, "x", InstanceStates.Waiting, InstanceStates.Personalising, null, DateTimeOffset.UtcNow));
            wait.IsCompleted.Should().BeFalse();
            events.Publish(new InstanceStateChange(waiting, "x", InstanceStates.Personalising, InstanceStates.Failed, "boom", DateTimeOffset.UtcNow));

            (await wait.WaitAsync(TimeSpan.FromSeconds(5))).Message.Should().Be("boom");
        }

        events.Publish(new InstanceStateChange(id, "x", null, InstanceStates.Deleted, null, DateTimeOffset.UtcNow));
        seen.Should().HaveCount(2, "a disposed subscription receives nothing");
        using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        var never = () => events.WaitForAsync(id, [InstanceStates.Failed], cancelled.Token);
        await never.Should().ThrowAsync<OperationCanceledException>();
    }

    private async Task<long> InsertInstanceAsync(string state)
    {
        await using var connection = await _app.Service<Database>().OpenAsync();
        var now = DateTimeOffset.UtcNow;
        var project = await connection.ExecuteScalarAsync<long?>("SELECT id FROM projects WHERE slug = 'events';")
            ?? await connection.ExecuteScalarAsync<long>("INSERT INTO projects (name, slug, created_at, updated_at) VALUES ('Events', 'events', @now, @now) RETURNING id;", new { now });
        return await connection.ExecuteScalarAsync<long>(
            "INSERT INTO instances (project_id, type, hostname, state, created_at, updated_at) VALUES (@project, 'zwavejs', @hostname, @state, @now, @now) RETURNING id;",
            new { project, hostname = $"events-{Guid.NewGuid():N}"[..20], state, now });
    }
}
