using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Ctrlable.Provisioner.Build;

/// <summary>A running build as its watchers see it: the summary, every log line so far, and their subscriptions.</summary>
public sealed class LiveBuild(BuildSummary summary)
{
    private readonly Lock _sync = new();
    private readonly List<string> _lines = [];
    private readonly List<Channel<BuildStreamMessage>> _subscribers = [];
    private BuildSummary _summary = summary;
    private bool _ended;

    public BuildSummary Summary
    {
        get
        {
            lock (_sync)
            {
                return _summary;
            }
        }
    }

    /// <summary>
    /// The current summary and log, and a reader of everything after them (atomically, so no line is missed or
    /// doubled). The reader completes after the <c>end</c> message.
    /// </summary>
    public (BuildSummary Summary, IReadOnlyList<string> Lines, ChannelReader<BuildStreamMessage> Updates, bool Ended) Subscribe()
    {
        lock (_sync)
        {
            var channel = Channel.CreateUnbounded<BuildStreamMessage>(new UnboundedChannelOptions { SingleReader = true });
            if (_ended)
            {
                channel.Writer.Complete();
            }
            else
            {
                _subscribers.Add(channel);
            }

            return (_summary, [.. _lines], channel.Reader, _ended);
        }
    }

    public void Unsubscribe(ChannelReader<BuildStreamMessage> reader)
    {
        lock (_sync)
        {
            _subscribers.RemoveAll(c => c.Reader == reader);
        }
    }

    public void AddLines(IReadOnlyList<string> lines)
    {
        if (lines.Count == 0)
        {
            return;
        }

        lock (_sync)
        {
            var from = _lines.Count;
            _lines.AddRange(lines);
            Broadcast(new BuildStreamMessage(null, from, lines));
        }
    }

    public void Update(BuildSummary summary)
    {
        lock (_sync)
        {
            _summary = summary;
            Broadcast(new BuildStreamMessage(summary, null, null));
        }
    }

    public void End(BuildSummary summary)
    {
        lock (_sync)
        {
            _summary = summary;
            _ended = true;
            Broadcast(new BuildStreamMessage(summary, null, null));
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }

            _subscribers.Clear();
        }
    }

    private void Broadcast(BuildStreamMessage message)
    {
        foreach (var subscriber in _subscribers)
        {
            subscriber.Writer.TryWrite(message);
        }
    }
}

/// <summary>The builds running in this process, by id.</summary>
public sealed class BuildLiveRegistry
{
    private readonly ConcurrentDictionary<long, LiveBuild> _builds = new();

    public LiveBuild Add(BuildSummary summary) => _builds[summary.Id] = new LiveBuild(summary);

    public LiveBuild? Find(long id) => _builds.GetValueOrDefault(id);

    /// <summary>Forgets an ended build a while after its end, once late watchers had time to read it from memory.</summary>
    public void Remove(long id) => _builds.TryRemove(id, out _);
}
