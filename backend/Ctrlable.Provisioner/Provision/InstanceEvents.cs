using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Provision;

/// <summary>An instance moved from one state to another (after the change is committed).</summary>
public sealed record InstanceStateChange(long InstanceId, string Hostname, string? From, string To, string? Message, DateTimeOffset At);

/// <summary>
/// In-process notifications of instance state changes, so the deploy pipeline (and later the SPA's live view)
/// need not poll the instances table. The provision endpoints publish waiting → personalising → active | failed.
/// </summary>
public interface IInstanceEvents
{
    /// <summary>Tells every subscriber and waiter; call after the change is committed.</summary>
    void Publish(InstanceStateChange change);

    /// <summary>Calls <paramref name="handler"/> for every change from now on, until the subscription is disposed. Keep the handler short: it runs on the publisher's thread.</summary>
    IDisposable Subscribe(Action<InstanceStateChange> handler);

    /// <summary>
    /// Completes once the instance is in one of <paramref name="states"/>: at once when the stored row is in one
    /// already (no change is lost between a read and the wait), else with the change that takes it there. A
    /// missing instance counts as <see cref="InstanceStates.Deleted"/>.
    /// </summary>
    Task<InstanceStateChange> WaitForAsync(long instanceId, IReadOnlyCollection<string> states, CancellationToken ct);
}

public sealed class InstanceEvents(Database database, TimeProvider time) : IInstanceEvents
{
    private readonly Lock _gate = new();
    private readonly List<Action<InstanceStateChange>> _handlers = [];

    public void Publish(InstanceStateChange change)
    {
        Action<InstanceStateChange>[] handlers;
        lock (_gate)
        {
            handlers = [.. _handlers];
        }

        foreach (var handler in handlers)
        {
            handler(change);
        }
    }

    public IDisposable Subscribe(Action<InstanceStateChange> handler)
    {
        lock (_gate)
        {
            _handlers.Add(handler);
        }

        return new Subscription(this, handler);
    }

    public async Task<InstanceStateChange> WaitForAsync(long instanceId, IReadOnlyCollection<string> states, CancellationToken ct)
    {
        var reached = new TaskCompletionSource<InstanceStateChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = Subscribe(change =>
        {
            if (change.InstanceId == instanceId && states.Contains(change.To))
            {
                reached.TrySetResult(change);
            }
        });

        // Subscribed first, read second: a change committed in between is seen by one or the other.
        const string sql = "SELECT hostname AS Hostname, state AS State FROM instances WHERE id = @instanceId;";
        await using (var connection = await database.OpenAsync(ct))
        {
            var row = await connection.QuerySingleOrDefaultAsync<StateRow>(new CommandDefinition(sql, new { instanceId }, cancellationToken: ct));
            var state = row?.State ?? InstanceStates.Deleted;
            if (states.Contains(state))
            {
                return new InstanceStateChange(instanceId, row?.Hostname ?? "", null, state, null, time.GetUtcNow());
            }
        }

        return await reached.Task.WaitAsync(ct);
    }

    private sealed record StateRow(string Hostname, string State);

    private sealed class Subscription(InstanceEvents events, Action<InstanceStateChange> handler) : IDisposable
    {
        public void Dispose()
        {
            lock (events._gate)
            {
                events._handlers.Remove(handler);
            }
        }
    }
}
