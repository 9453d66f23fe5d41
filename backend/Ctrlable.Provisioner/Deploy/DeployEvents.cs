using System.Threading.Channels;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>One instance's progress through the pipeline, as the SPA and integrators see it.</summary>
public sealed record InstanceProgress(
    long InstanceId,
    long ProjectId,
    long? DeployId,
    string Hostname,
    string Type,
    string State,
    int Percent,
    string? Message,
    string? Error,
    DateTimeOffset At,
    [property: System.ComponentModel.Description("The guest's address as last seen (under DHCP it follows the guest's lease).")] string? Ip = null,
    [property: System.ComponentModel.Description("Where the app is opened (Home Assistant's located URL).")] string? AppUrl = null)
{
    public static InstanceProgress Of(InstanceRow row) => new(
        row.Id, row.ProjectId, row.DeployId, row.Hostname, row.Type, row.State, PercentOf(row.State), row.Message, row.Error, row.UpdatedAt, row.Ip, row.AppUrl);

    public static int PercentOf(string state) => state switch
    {
        InstanceStates.Pending => 0,
        InstanceStates.Cloning => 20,
        InstanceStates.Configuring => 45,
        InstanceStates.Starting => 60,
        InstanceStates.Waiting => 75,
        InstanceStates.Personalising => 90,
        InstanceStates.Locating => 65,
        InstanceStates.Preparing => 70,
        InstanceStates.Restoring => 78,
        InstanceStates.Securing => 88,
        InstanceStates.Wiring => 94,
        InstanceStates.Deleting => 50,
        _ => 100,
    };
}

/// <summary>In-process fan-out of pipeline progress to Server-Sent Events subscribers.</summary>
public sealed class DeployEvents
{
    private readonly Lock _gate = new();
    private readonly List<Channel<InstanceProgress>> _subscribers = [];

    public void Publish(InstanceProgress progress)
    {
        lock (_gate)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryWrite(progress);
            }
        }
    }

    /// <summary>Progress from now on; dispose the subscription to stop receiving.</summary>
    public Subscription Subscribe()
    {
        // Bounded: a stalled SSE client loses old progress lines, never the orchestrator's memory.
        var channel = Channel.CreateBounded<InstanceProgress>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_gate)
        {
            _subscribers.Add(channel);
        }

        return new Subscription(this, channel);
    }

    public sealed class Subscription(DeployEvents events, Channel<InstanceProgress> channel) : IDisposable
    {
        public ChannelReader<InstanceProgress> Reader => channel.Reader;

        public void Dispose()
        {
            lock (events._gate)
            {
                events._subscribers.Remove(channel);
            }

            channel.Writer.TryComplete();
        }
    }
}

/// <summary>
/// Called after each persisted step (and after a clone was requested but before its task is recorded).
/// The product uses none; crash tests use it to stop the orchestrator at exactly that point.
/// </summary>
public interface IDeployStepObserver
{
    Task AfterStepAsync(long instanceId, string step, CancellationToken ct);
}

public sealed class NoStepObserver : IDeployStepObserver
{
    public Task AfterStepAsync(long instanceId, string step, CancellationToken ct) => Task.CompletedTask;
}
