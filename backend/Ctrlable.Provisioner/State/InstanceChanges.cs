using System.Threading.Channels;

namespace Ctrlable.Provisioner.State;

/// <summary>
/// An instance changed (published after the change is committed): <paramref name="Instance"/> is the row as committed,
/// <paramref name="From"/> the state before (equal to <see cref="To"/> for a change within a state: a new message, address
/// or URL), <paramref name="Message"/> what the history row says (the row's own message when no history row was written).
/// </summary>
public sealed record InstanceChange(long InstanceId, string? From, string To, string? Message, DateTimeOffset At, InstanceRow? Instance)
{
    /// <summary>The change <paramref name="row"/> as it was committed.</summary>
    public static InstanceChange Of(InstanceRow row, string? from, string? message, DateTimeOffset at) =>
        new(row.Id, from, row.State, message ?? row.Message, at, row);
}

/// <summary>
/// The one in-process stream of instance changes. Only <see cref="InstanceTransitions"/> publishes, after each commit and
/// in commit order; the SPA's live view (Server-Sent Events), the deploy pipeline's wait for a first boot, Home Assistant's
/// re-wiring and the tests read it, so none of them polls the instances table.
/// </summary>
public sealed class InstanceChanges(InstanceRepository instances, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly List<Action<InstanceChange>> _handlers = [];

    /// <summary>Tells every subscriber; called by <see cref="InstanceTransitions"/> once the change is committed.</summary>
    internal void Publish(InstanceChange change)
    {
        Action<InstanceChange>[] handlers;
        lock (_gate)
        {
            handlers = [.. _handlers];
        }

        foreach (var handler in handlers)
        {
            handler(change);
        }
    }

    /// <summary>Calls <paramref name="handler"/> for every change from now on, until the subscription is disposed. Keep it short: it runs on the publisher's thread.</summary>
    public IDisposable Subscribe(Action<InstanceChange> handler)
    {
        lock (_gate)
        {
            _handlers.Add(handler);
        }

        return new Subscription(this, handler);
    }

    /// <summary>Changes from now on, buffered for a slow reader (a Server-Sent Events client); dispose to stop.</summary>
    public Feed SubscribeFeed()
    {
        // Bounded: a stalled SSE client loses old changes, never the orchestrator's memory.
        var channel = Channel.CreateBounded<InstanceChange>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        return new Feed(channel, Subscribe(change => channel.Writer.TryWrite(change)));
    }

    /// <summary>
    /// Completes once the instance is in one of <paramref name="states"/>: at once when the stored row is in one already
    /// (no change is lost between the read and the wait), else with the change that takes it there. A missing instance
    /// counts as <see cref="InstanceStates.Deleted"/>.
    /// </summary>
    public Task<InstanceChange> WaitForAsync(long instanceId, IReadOnlyCollection<string> states, CancellationToken ct) =>
        WaitForAsync(instanceId, states.Contains, ct);

    /// <inheritdoc cref="WaitForAsync(long, IReadOnlyCollection{string}, CancellationToken)"/>
    public Task<InstanceChange> WaitForAsync(long instanceId, Func<string, bool> reached, CancellationToken ct)
    {
        InstanceChange? Stored(InstanceRow? row)
        {
            if (row is null)
            {
                return reached(InstanceStates.Deleted) ? new InstanceChange(instanceId, null, InstanceStates.Deleted, null, time.GetUtcNow(), null) : null;
            }

            return reached(row.State) ? InstanceChange.Of(row, null, null, time.GetUtcNow()) : null;
        }

        return WaitAsync(instanceId, change => reached(change.To) ? change : null, Stored, ct);
    }

    /// <summary>
    /// The instance's row once <paramref name="reached"/> holds for it (null: the instance does not exist): at once when the
    /// stored row does already, else with the change that makes it hold (subscribe, then read: no change is lost).
    /// </summary>
    public async Task<InstanceRow?> WaitForRowAsync(long instanceId, Func<InstanceRow?, bool> reached, CancellationToken ct) =>
        (await WaitAsync(instanceId,
            change => reached(change.Instance) ? new Found<InstanceRow?>(change.Instance) : null,
            row => reached(row) ? new Found<InstanceRow?>(row) : null,
            ct)).Value;

    /// <summary>
    /// The one subscribe-then-read wait: <paramref name="fromRow"/> of the stored row when it answers already, else the first
    /// change <paramref name="fromChange"/> answers for. Subscribed first, read second: a change committed in between is
    /// seen by one or the other.
    /// </summary>
    private async Task<T> WaitAsync<T>(long instanceId, Func<InstanceChange, T?> fromChange, Func<InstanceRow?, T?> fromRow, CancellationToken ct)
        where T : class
    {
        var moved = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = Subscribe(change =>
        {
            if (change.InstanceId == instanceId && fromChange(change) is { } answer)
            {
                moved.TrySetResult(answer);
            }
        });

        return fromRow(await instances.GetAsync(instanceId, ct)) ?? await moved.Task.WaitAsync(ct);
    }

    /// <summary>A found value that may itself be null (a deleted instance's row).</summary>
    private sealed record Found<TValue>(TValue Value);

    private sealed class Subscription(InstanceChanges changes, Action<InstanceChange> handler) : IDisposable
    {
        public void Dispose()
        {
            lock (changes._gate)
            {
                changes._handlers.Remove(handler);
            }
        }
    }

    /// <summary>A buffered subscription: read <see cref="Reader"/>; dispose to stop.</summary>
    public sealed class Feed(Channel<InstanceChange> channel, IDisposable subscription) : IDisposable
    {
        public ChannelReader<InstanceChange> Reader => channel.Reader;

        public void Dispose()
        {
            subscription.Dispose();
            channel.Writer.TryComplete();
        }
    }
}
