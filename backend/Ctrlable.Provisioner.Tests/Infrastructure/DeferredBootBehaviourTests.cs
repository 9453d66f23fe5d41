using System.Net;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>A guest's first boot outlives the orchestrator it started with, as a real guest's does.</summary>
public sealed class DeferredBootBehaviourTests
{
    private static readonly GuestBootContext Guest = new(1001, GuestKind.Lxc, "pve1", "crash-zwavejs", IPAddress.Parse("127.0.10.13"), null, 9001, [], null);

    [Fact]
    public async Task A_boot_whose_orchestrator_is_stopped_under_it_runs_again_with_the_next_one()
    {
        var boot = new DeferredBootBehaviour();
        var stopped = new StoppedUnderIt(boot);
        var next = new Recording();
        boot.Connect(stopped);

        var run = boot.RunFirstBootAsync(Guest, CancellationToken.None);
        await stopped.Entered.Task;
        stopped.Stop();
        run.IsCompleted.Should().BeFalse("the guest waits for an orchestrator to answer");
        boot.Connect(next);
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        next.Booted.Should().Equal(Guest.Vmid);
    }

    [Fact]
    public async Task A_behaviour_that_fails_while_its_orchestrator_runs_fails_the_boot()
    {
        var boot = new DeferredBootBehaviour();
        var failing = new StoppedUnderIt(boot);
        boot.Connect(failing);

        var run = boot.RunFirstBootAsync(Guest, CancellationToken.None);
        await failing.Entered.Task;
        failing.Fail();

        await ((Func<Task>)(() => run)).Should().ThrowAsync<ObjectDisposedException>();
    }

    /// <summary>Holds the boot until told, then throws what a disposed orchestrator's services throw.</summary>
    private sealed class StoppedUnderIt(DeferredBootBehaviour boot) : IGuestBootBehaviour
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Stop()
        {
            // As the harness's Run.DisposeAsync: disconnected first, then the app disposed.
            boot.Disconnect();
            _release.SetResult();
        }

        public void Fail() => _release.SetResult();

        public async Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            await _release.Task;
            throw new ObjectDisposedException("IServiceProvider");
        }
    }

    private sealed class Recording : IGuestBootBehaviour
    {
        public List<int> Booted { get; } = [];

        public Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken)
        {
            Booted.Add(context.Vmid);
            return Task.CompletedTask;
        }
    }
}
