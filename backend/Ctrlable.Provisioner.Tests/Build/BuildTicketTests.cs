using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>The wrapper-facing endpoints: only a running build's unexpired ticket opens them, each use once.</summary>
public sealed class BuildTicketTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly ProvisionerApp _app;

    public BuildTicketTests() => _app = new ProvisionerApp(time: _time);

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task The_plan_is_handed_out_once_per_ticket_as_tab_separated_lines()
    {
        var (_, ticket) = await RunningBuildAsync();
        using var wrapper = Wrapper(ticket);

        var response = await wrapper.GetAsync("/api/build-host/plan");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be(BuildPlan.ContentType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].Should().Be("ctrlable-build-plan\t1");
        lines.Should().Contain(["release\t2026.06", "ref\t2026-05-30", "commit\tdc355d07bff60c8e7bd3263a9c663c391c91ad89", "force\t0", "storage\tlocal-lvm", "bridge\tvmbr0", "pool\tctrlable-templates"]);
        lines.Should().Contain("template\tzwavejs\tlxc\tct/zwave-js-ui.sh\t9001\t2\t2048\t8\tdebian\t12\t1\t11.19.0\t0\t-\t-\t0\t-");
        lines.Should().Contain("template\tctrlable-pro\tvm\tvm/haos-vm.sh\t9000\t2\t4096\t32\tdebian\t12\t1\t-\t0\t17.1\t-\t1\tctrlable-base-2026.06.tar");
        lines[^1].Should().Be("end");

        var again = await wrapper.GetAsync("/api/build-host/plan");
        again.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString().Should().Be("Ticket already used");
    }

    [Fact]
    public async Task The_secret_is_issued_once_fresh_or_kept_and_never_without_the_ticket()
    {
        var (_, ticket) = await RunningBuildAsync();
        var secrets = _app.Service<ReleaseSecrets>();
        var previous = await secrets.IssueAsync("2026.06", CancellationToken.None);
        using var wrapper = Wrapper(ticket);

        var response = await wrapper.PostAsync("/api/build-host/secret?reuse=0", null);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var secret = await response.Content.ReadAsStringAsync();
        secret.Should().MatchRegex("^[0-9a-f]{64}$").And.NotBe(previous, "every build rotates the release secret");
        (await secrets.GetAsync("2026.06", CancellationToken.None)).Should().Be(secret);
        (await wrapper.PostAsync("/api/build-host/secret?reuse=0", null)).StatusCode.Should().Be(HttpStatusCode.Conflict);

        var (_, second) = await RunningBuildAsync(finishFirst: true);
        using var rerun = Wrapper(second);
        var kept = await rerun.PostAsync("/api/build-host/secret?reuse=1", null);
        (await kept.Content.ReadAsStringAsync()).Should().Be(secret, "kept templates carry the current secret");
        _app.Logs.Lines.Should().NotContain(l => l.Contains(secret, StringComparison.Ordinal) || l.Contains(ticket, StringComparison.Ordinal));
        var (audit, _) = await _app.Service<AuditRepository>().PageAsync(1, 50);
        audit.Should().Contain(a => a.Route == "/api/build-host/secret" && a.StatusCode == 200 && a.Target == "release=2026.06; reuse=1");
    }

    [Fact]
    public async Task Unknown_expired_and_ended_tickets_and_other_credentials_are_401()
    {
        var (id, ticket) = await RunningBuildAsync();
        using var stranger = Wrapper(BuildTickets.New());
        (await stranger.GetAsync("/api/build-host/plan")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        using var admin = await _app.CreateClientAsync(Role.Admin);
        (await admin.GetAsync("/api/build-host/plan")).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "an API token is not a build ticket");

        await _app.Service<BuildRepository>().FinishAsync(id, BuildState.Failed, "stopped", 1, [], _time.GetUtcNow());
        using var ended = Wrapper(ticket);
        (await ended.GetAsync("/api/build-host/plan")).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "the ticket died with its build");

        var (_, later) = await RunningBuildAsync();
        _time.Advance(TimeSpan.FromMinutes(241));
        using var late = Wrapper(later);
        var expired = await late.GetAsync("/api/build-host/plan");
        expired.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        expired.Headers.WwwAuthenticate.ToString().Should().Be("Bearer");
    }

    [Fact]
    public async Task Without_a_host_trigger_a_build_is_refused_with_what_to_configure()
    {
        using var operatorClient = await _app.CreateClientAsync(Role.Operator);

        var response = await operatorClient.PostAsJsonAsync("/api/releases/2026.06/build", new { });

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("code").GetString().Should().Be("trigger-not-configured");
        problem.GetProperty("detail").GetString().Should().Contain("HostTrigger:Host");
        (await operatorClient.PostAsJsonAsync("/api/releases/1999.01/build", new { })).StatusCode.Should().Be(HttpStatusCode.NotFound);
        var trigger = await operatorClient.GetFromJsonAsync<JsonElement>("/api/builds/trigger");
        trigger.GetProperty("configured").GetBoolean().Should().BeFalse();
        (await operatorClient.GetFromJsonAsync<JsonElement>("/api/builds")).GetArrayLength().Should().Be(0);
    }

    /// <summary>A running build of 2026.06 inserted directly, with a ticket the test knows.</summary>
    private async Task<(long Id, string Ticket)> RunningBuildAsync(bool finishFirst = false)
    {
        await _app.EnsureSetUpAsync();
        var builds = _app.Service<BuildRepository>();
        if (finishFirst && await builds.FindRunningAsync("test-host") is { } running)
        {
            await builds.FinishAsync(running.Id, BuildState.Succeeded, null, 0, [], _time.GetUtcNow());
        }

        var ticket = BuildTickets.New();
        var id = await builds.CreateAsync("2026.06", "test-host", "tester", false, "2026-05-30", BuildTickets.Hash(ticket),
            _time.GetUtcNow().AddMinutes(240), [], _time.GetUtcNow(), CancellationToken.None);
        return (id, ticket);
    }

    private HttpClient Wrapper(string ticket)
    {
        var client = _app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ticket);
        return client;
    }
}
