using Ctrlable.Provisioner.Dashboard;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.Provisioner.Tests.Dashboard;

public sealed class SharedFetchTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Concurrent_callers_share_one_fetch()
    {
        var calls = 0;
        var gate = new TaskCompletionSource();
        var fetch = new SharedFetch<string>(async _ =>
        {
            Interlocked.Increment(ref calls);
            await gate.Task;
            return "snapshot";
        }, TimeSpan.FromSeconds(3), _time);

        var callers = Enumerable.Range(0, 50).Select(_ => fetch.GetAsync(CancellationToken.None)).ToList();
        gate.SetResult();
        var results = await Task.WhenAll(callers);

        calls.Should().Be(1);
        results.Should().OnlyContain(r => r.Value == "snapshot" && r.Error == null);
    }

    [Fact]
    public async Task Result_is_reused_while_fresh_then_refetched()
    {
        var calls = 0;
        var fetch = new SharedFetch<string>(_ => Task.FromResult($"v{Interlocked.Increment(ref calls)}"), TimeSpan.FromSeconds(3), _time);

        (await fetch.GetAsync(CancellationToken.None)).Value.Should().Be("v1");
        _time.Advance(TimeSpan.FromSeconds(2));
        (await fetch.GetAsync(CancellationToken.None)).Value.Should().Be("v1");
        _time.Advance(TimeSpan.FromSeconds(2));
        (await fetch.GetAsync(CancellationToken.None)).Value.Should().Be("v2");
    }

    [Fact]
    public async Task A_failure_keeps_the_last_value_and_is_not_retried_at_once()
    {
        var calls = 0;
        var fail = false;
        var fetch = new SharedFetch<string>(_ =>
        {
            Interlocked.Increment(ref calls);
            return fail ? Task.FromException<string>(new HttpRequestException("unreachable")) : Task.FromResult("good");
        }, TimeSpan.FromSeconds(3), _time);
        await fetch.GetAsync(CancellationToken.None);

        fail = true;
        _time.Advance(TimeSpan.FromSeconds(4));
        var first = await fetch.GetAsync(CancellationToken.None);
        var second = await fetch.GetAsync(CancellationToken.None);

        first.Value.Should().Be("good");
        first.Error.Should().BeOfType<HttpRequestException>();
        second.Error.Should().NotBeNull();
        calls.Should().Be(2, "a failed poll is remembered for the freshness window, so an unreachable host is not hammered");
    }

    [Fact]
    public async Task A_caller_that_gives_up_does_not_cancel_the_others()
    {
        var gate = new TaskCompletionSource();
        var fetch = new SharedFetch<string>(async _ =>
        {
            await gate.Task;
            return "done";
        }, TimeSpan.FromSeconds(3), _time);
        using var impatient = new CancellationTokenSource();

        var cancelled = fetch.GetAsync(impatient.Token);
        var patient = fetch.GetAsync(CancellationToken.None);
        await impatient.CancelAsync();
        gate.SetResult();

        await FluentActions.Awaiting(() => cancelled).Should().ThrowAsync<OperationCanceledException>();
        (await patient).Value.Should().Be("done");
    }
}
