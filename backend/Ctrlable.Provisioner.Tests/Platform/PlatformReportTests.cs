using System.Net;
using System.Net.Http.Json;
using System.Text;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.Time.Testing;
using static Ctrlable.Provisioner.Tests.Platform.PlatformHarness;

namespace Ctrlable.Provisioner.Tests.Platform;

/// <summary>
/// The orchestrator against the fake platform on loopback: enrolment, the outbox, coalescing, failures and restarts.
/// Every body the orchestrator sends is validated against docs/platform-api.yaml by the fake.
/// </summary>
public sealed class PlatformReportTests : IAsyncLifetime
{
    private FakePlatform _platform = null!;

    public async Task InitializeAsync() => _platform = await FakePlatform.StartAsync();

    public async Task DisposeAsync() => await _platform.DisposeAsync();

    [Fact]
    public async Task Without_a_platform_url_the_site_shows_not_connected_and_sends_nothing()
    {
        using var app = new ProvisionerApp();
        using var admin = await app.CreateClientAsync(Role.Admin);

        (await StatusAsync(admin)).Connection.Should().Be(PlatformConnection.NotConfigured);
        using var enrol = await admin.PostAsJsonAsync("/api/platform/enrolment", new { code = "ENR-123456" });
        enrol.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await enrol.Content.ReadAsStringAsync()).Should().Contain("Platform:Url");
        await DeployAsync(app, 2);

        // The outbox is written by triggers in the deploy's own transaction: nothing to wait for.
        (await StatusAsync(admin)).PendingChanges.Should().Be(0, "nothing is recorded for a site that reports nowhere");
        app.Logs.Lines.Where(l => l.Contains("Platform", StringComparison.Ordinal) && !l.StartsWith("Information", StringComparison.Ordinal) && !l.StartsWith("Debug", StringComparison.Ordinal)
            && !l.StartsWith("Trace", StringComparison.Ordinal)).Should().BeEmpty("not configured is a state, not an error");
        _platform.Attempts.Should().BeEmpty();
    }

    [Fact]
    public async Task Enrolment_keeps_the_token_encrypted_and_delivers_a_first_full_report()
    {
        using var app = new ProvisionerApp(settings: PlatformSettings(_platform));
        using var admin = await app.CreateClientAsync(Role.Admin);
        using var viewer = await app.CreateClientAsync(Role.Viewer);
        await DeployAsync(app, 2);
        (await StatusAsync(viewer)).Connection.Should().Be(PlatformConnection.NotEnrolled);

        using var badCode = await admin.PostAsJsonAsync("/api/platform/enrolment", new { code = "ENR-WRONG1" });
        badCode.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        using var malformed = await admin.PostAsJsonAsync("/api/platform/enrolment", new { code = "no spaces!" });
        malformed.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        // At the key the enrolment form shows it under.
        (await malformed.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("errors").EnumerateObject().Select(e => e.Name).Should().Equal("code");

        using var enrol = await admin.PostAsJsonAsync("/api/platform/enrolment", new { code = _platform.CreateCode("site-0042") });
        enrol.StatusCode.Should().Be(HttpStatusCode.OK);
        await Eventually.TrueAsync(async () => (await StatusAsync(viewer)).Connection == PlatformConnection.Connected, "connected");

        var status = await StatusAsync(viewer);
        status.SiteId.Should().Be("site-0042");
        status.LastReportAt.Should().NotBeNull();
        status.PendingChanges.Should().Be(0);
        var first = _platform.Accepted.Should().ContainSingle().Subject;
        first.GetProperty("trigger").GetString().Should().Be("enrolment");
        first.GetProperty("sequence").GetInt64().Should().Be(1);
        first.GetProperty("activeRelease").GetProperty("name").GetString().Should().Be("2026.06");
        first.GetProperty("activeRelease").GetProperty("templates").GetArrayLength().Should().BeGreaterThan(0);
        States(first).Should().HaveCount(2).And.OnlyContain(s => s.Value == "pending");
        first.GetProperty("host").GetProperty("simulated").GetBoolean().Should().BeTrue();
        first.GetProperty("host").GetProperty("nodes").GetArrayLength().Should().BeGreaterThan(0);
        _platform.ContractViolations.Should().BeEmpty();

        // The token is stored only encrypted: neither the secrets table nor the database files hold it in clear.
        var token = _platform.IssuedTokens.Should().ContainSingle().Subject;
        (await app.Service<SecretStore>().GetAsync(SecretKind.PlatformToken, PlatformReporter.TokenSecretName)).Should().Be(token);
        foreach (var file in Directory.EnumerateFiles(app.DataDirectory, "provisioner.db*"))
        {
            Encoding.Latin1.GetString(await ReadSharedAsync(file)).Should().NotContain(token, file);
        }

        using var again = await admin.PostAsJsonAsync("/api/platform/enrolment", new { code = _platform.CreateCode() });
        again.StatusCode.Should().Be(HttpStatusCode.Conflict, "a second enrolment must be an explicit re-enrol");
        using var viewerEnrol = await viewer.PostAsJsonAsync("/api/platform/enrolment", new { code = _platform.CreateCode() });
        viewerEnrol.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Every_state_change_is_eventually_reported_while_online()
    {
        using var app = new ProvisionerApp(settings: PlatformSettings(_platform));
        await EnrolAsync(app, _platform);
        var repo = app.Service<InstanceTransitions>();
        var instances = await DeployAsync(app, 2);

        foreach (var state in new[] { InstanceStates.Cloning, InstanceStates.Starting, InstanceStates.Waiting, InstanceStates.Active })
        {
            await repo.SetStateAsync(instances[0].Id, state, state);
            await Eventually.TrueAsync(() => _platform.Latest is { } latest && States(latest).GetValueOrDefault(instances[0].Id) == state, $"{state} reported");
        }

        await repo.SetStateAsync(instances[1].Id, InstanceStates.Failed, "Broke");
        await Eventually.TrueAsync(() => _platform.Latest is { } latest && States(latest).GetValueOrDefault(instances[1].Id) == InstanceStates.Failed, "failed reported");
        var sequences = _platform.Accepted.Select(r => r.GetProperty("sequence").GetInt64()).ToList();
        sequences.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        _platform.ContractViolations.Should().BeEmpty();
    }

    [Fact]
    public async Task Without_changes_a_heartbeat_report_goes_out_every_interval()
    {
        var settings = PlatformSettings(_platform);
        settings["Platform:Heartbeat"] = "00:00:00.300";
        using var app = new ProvisionerApp(settings: settings);
        await EnrolAsync(app, _platform);

        await Eventually.TrueAsync(() => _platform.Accepted.Count(r => r.GetProperty("trigger").GetString() == "heartbeat") >= 2, "two heartbeats");
        var heartbeat = _platform.Accepted.Last(r => r.GetProperty("trigger").GetString() == "heartbeat");
        heartbeat.GetProperty("changesSinceLastReport").GetInt32().Should().Be(0);
        heartbeat.GetProperty("activeRelease").GetProperty("name").GetString().Should().Be("2026.06", "a heartbeat is a full snapshot too");
        _platform.ContractViolations.Should().BeEmpty();
    }

    [Fact]
    public async Task A_revoked_token_stops_reporting_without_retries_until_the_admin_re_enrols()
    {
        using var app = new ProvisionerApp(settings: PlatformSettings(_platform));
        using var admin = await app.CreateClientAsync(Role.Admin);
        await EnrolAsync(app, _platform);
        var instance = (await DeployAsync(app, 1))[0];
        await Eventually.TrueAsync(() => _platform.Latest is { } l && States(l).ContainsKey(instance.Id), "deploy reported");

        _platform.RevokeTokens();
        var repo = app.Service<InstanceTransitions>();
        await repo.SetStateAsync(instance.Id, InstanceStates.Active, "Running");
        await Eventually.TrueAsync(async () => (await StatusAsync(admin)).Connection == PlatformConnection.TokenRejected, "token rejected");
        var rejected = await StatusAsync(admin);
        rejected.LastError.Should().Contain("re-enrol");
        rejected.NextAttemptAt.Should().BeNull();

        // Ten polls of the sender and more changes: not one further request.
        var attempts = _platform.Attempts.Count;
        await repo.SetStateAsync(instance.Id, InstanceStates.Failed, "Broke");
        var sleeps = app.Service<PlatformReporter>().LastSleep.Count;
        await Eventually.TrueAsync(() => app.Service<PlatformReporter>().LastSleep.Count >= sleeps + 10, "ten more polls of the sender");
        _platform.Attempts.Count.Should().Be(attempts, "a rejected token is not retried");
        (await StatusAsync(admin)).PendingChanges.Should().Be(2);

        await EnrolAsync(app, _platform, replace: true);
        States(_platform.Latest!.Value)[instance.Id].Should().Be(InstanceStates.Failed);
        (await StatusAsync(admin)).PendingChanges.Should().Be(0);

        // Neither token ever reached a log line (every level is captured).
        _platform.IssuedTokens.Should().HaveCount(2);
        foreach (var token in _platform.IssuedTokens)
        {
            app.Logs.Lines.Should().NotContain(l => l.Contains(token, StringComparison.Ordinal));
        }

        app.Logs.Lines.Should().Contain(l => l.Contains("rejected the site token", StringComparison.Ordinal), "the rejection itself is logged");
        _platform.ContractViolations.Should().BeEmpty();
    }

    [Fact]
    public async Task Disconnect_while_the_platform_is_down_still_disconnects_here_and_says_the_platform_was_not_told()
    {
        using var app = new ProvisionerApp(settings: PlatformSettings(_platform));
        using var admin = await app.CreateClientAsync(Role.Admin);
        await EnrolAsync(app, _platform);
        var token = _platform.IssuedTokens.Single();
        _platform.Mode = PlatformMode.ServerError;

        using var response = await admin.DeleteAsync("/api/platform/enrolment");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _platform.Left.Should().BeEmpty();
        var status = await StatusAsync(admin);
        status.Connection.Should().Be(PlatformConnection.NotEnrolled);
        status.LastError.Should().StartWith("Disconnected here, but the platform could not be told (").And.Contain("HTTP 500")
            .And.EndWith("it lists site site-0042 until a platform user removes it.");
        (await app.Service<SecretStore>().GetAsync(SecretKind.PlatformToken, PlatformReporter.TokenSecretName)).Should().BeNull();
        app.Logs.Lines.Should().NotContain(l => l.Contains(token, StringComparison.Ordinal));

        // A later enrolment starts clean.
        _platform.Mode = PlatformMode.Normal;
        await EnrolAsync(app, _platform);
        (await StatusAsync(admin)).LastError.Should().BeNull();
    }

    [Fact]
    public async Task Disconnect_forgets_the_enrolment_and_stops_reporting()
    {
        using var app = new ProvisionerApp(settings: PlatformSettings(_platform));
        using var admin = await app.CreateClientAsync(Role.Admin);
        await EnrolAsync(app, _platform);

        using var response = await admin.DeleteAsync("/api/platform/enrolment");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _platform.Left.Should().Equal(["site-0042"], "the platform was told, so it does not show the site as offline");
        var status = await StatusAsync(admin);
        status.Connection.Should().Be(PlatformConnection.NotEnrolled);
        status.LastError.Should().BeNull();
        status.LastSequence.Should().Be(1, "the sequence is kept for a later enrolment");
        (await app.Service<SecretStore>().GetAsync(SecretKind.PlatformToken, PlatformReporter.TokenSecretName)).Should().BeNull();

        var attempts = _platform.Attempts.Count;
        await DeployAsync(app, 1);
        var sleeps = app.Service<PlatformReporter>().LastSleep.Count;
        await Eventually.TrueAsync(() => app.Service<PlatformReporter>().LastSleep.Count >= sleeps + 5, "five more polls of the sender");
        _platform.Attempts.Count.Should().Be(attempts);
        (await StatusAsync(admin)).PendingChanges.Should().Be(0);
    }

    [Fact]
    public async Task A_platform_that_holds_a_higher_sequence_makes_the_site_continue_above_it()
    {
        using var app = new ProvisionerApp(settings: PlatformSettings(_platform));
        await EnrolAsync(app, _platform);
        // As if the site's database had been restored from an old backup: its counter is behind the platform's.
        await using (var connection = await app.Service<Database>().OpenAsync())
        {
            await connection.ExecuteAsync("UPDATE platform_site SET last_sequence = 0;");
        }

        var instance = (await DeployAsync(app, 1))[0];
        await Eventually.TrueAsync(() => _platform.Latest is { } l && States(l).ContainsKey(instance.Id), "delivered despite the reset counter");
        _platform.Accepted.Select(r => r.GetProperty("sequence").GetInt64()).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
    }

    private static async Task<byte[]> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var memory = new MemoryStream();
        await stream.CopyToAsync(memory);
        return memory.ToArray();
    }

    /// <summary>Restarts of the orchestrator: a test class of its own so that it runs beside the others.</summary>
    public sealed class Restarts : IAsyncLifetime
    {
        private FakePlatform _platform = null!;

        public async Task InitializeAsync() => _platform = await FakePlatform.StartAsync();

        public async Task DisposeAsync() => await _platform.DisposeAsync();

        [Fact]
        public async Task Sequence_numbers_increase_strictly_across_restarts()
        {
            var data = TempDirectory.Create("data");
            try
            {
                using (var first = new ProvisionerApp(settings: PlatformSettings(_platform), dataDirectory: data))
                {
                    await EnrolAsync(first, _platform);
                    var rows = await DeployAsync(first, 1);
                    await Eventually.TrueAsync(() => _platform.Latest is { } l && States(l).ContainsKey(rows[0].Id), "deploy reported");
                    await first.Service<InstanceTransitions>().SetStateAsync(rows[0].Id, InstanceStates.Active, "Running");
                    await Eventually.TrueAsync(() => _platform.Latest is { } l && States(l).GetValueOrDefault(rows[0].Id) == InstanceStates.Active, "active reported");
                }

                // A failed attempt uses up a number too; the next process must still continue above it.
                _platform.Mode = PlatformMode.ServerError;
                using (var second = new ProvisionerApp(settings: PlatformSettings(_platform), dataDirectory: data))
                {
                    // A finished state: the next process's deploy runner must not pick the instance up and keep changing it.
                    var row = (await DeployAsync(second, 1))[0];
                    await second.Service<InstanceTransitions>().SetStateAsync(row.Id, InstanceStates.Failed, "Clone failed");
                    await Eventually.TrueAsync(() => _platform.Attempts.Any(a => a.Status == 500), "a failed attempt");
                }

                _platform.Mode = PlatformMode.Normal;
                using (var third = new ProvisionerApp(settings: PlatformSettings(_platform), dataDirectory: data))
                {
                    using var viewer = await third.CreateClientAsync(Role.Viewer);
                    await Eventually.TrueAsync(async () => (await StatusAsync(viewer)) is { Connection: PlatformConnection.Connected, PendingChanges: 0 }, "delivered by the third process");
                    States(_platform.Latest!.Value).Should().BeEquivalentTo(await StoredStatesAsync(third));
                }

                var sent = _platform.Attempts.Where(a => a.Status != 500).Select(a => a.Sequence!.Value).ToList();
                sent.Should().HaveCountGreaterThanOrEqualTo(4).And.BeInAscendingOrder().And.OnlyHaveUniqueItems();
                _platform.Accepted.Select(r => r.GetProperty("sequence").GetInt64()).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
                _platform.Attempts.Should().NotContain(a => a.Status == 200 && !_platform.Accepted.Any(r => r.GetProperty("sequence").GetInt64() == a.Sequence),
                    "no report was dropped by the platform as stale or repeated");
                _platform.ContractViolations.Should().BeEmpty();
            }
            finally
            {
                TempDirectory.TryDelete(data);
            }
        }

        [Fact]
        public async Task A_change_committed_just_before_the_process_dies_is_delivered_by_the_next_one()
        {
            var data = TempDirectory.Create("data");
            try
            {
                long id;
                // Poll once an hour: after the enrolment report, this process never gets to send the change.
                using (var doomed = new ProvisionerApp(settings: PlatformSettings(_platform, poll: TimeSpan.FromHours(1)), dataDirectory: data))
                {
                    await EnrolAsync(doomed, _platform);
                    id = (await DeployAsync(doomed, 1))[0].Id;
                    await doomed.Service<InstanceTransitions>().SetStateAsync(id, InstanceStates.Failed, "Clone failed");
                    (await doomed.Service<PlatformRepository>().GetAsync(CancellationToken.None)).PendingChanges.Should().Be(2);
                }

                _platform.Accepted.Should().ContainSingle("only the enrolment report left the first process");
                using var next = new ProvisionerApp(settings: PlatformSettings(_platform), dataDirectory: data);
                using var viewer = await next.CreateClientAsync(Role.Viewer);
                await Eventually.TrueAsync(() => _platform.Latest is { } l && States(l).GetValueOrDefault(id) == InstanceStates.Failed, "the change delivered after restart");
                await Eventually.TrueAsync(async () => (await StatusAsync(viewer)).PendingChanges == 0, "outbox emptied");
            }
            finally
            {
                TempDirectory.TryDelete(data);
            }
        }

        [Fact]
        public async Task After_a_restart_the_first_report_waits_a_random_moment_up_to_the_startup_jitter()
        {
            var data = TempDirectory.Create("data");
            try
            {
                using (var first = new ProvisionerApp(settings: PlatformSettings(_platform, poll: TimeSpan.FromHours(1)), dataDirectory: data))
                {
                    await EnrolAsync(first, _platform);
                    await DeployAsync(first, 1);
                }

                var delivered = _platform.Accepted.Count;
                var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
                var startedAt = time.GetUtcNow();
                var settings = PlatformSettings(_platform);
                settings["Platform:StartupJitter"] = "00:10:00";
                using var next = new ProvisionerApp(settings: settings, time: time, dataDirectory: data);
                using var viewer = await next.CreateClientAsync(Role.Viewer);
                // The sender's first sleep is the start-up jitter, on the injected clock, which stands still.
                await Eventually.TrueAsync(() => next.Service<PlatformReporter>().LastSleep is { Count: 1, Asleep: true }, "the sender waits out the start-up jitter");
                _platform.Accepted.Should().HaveCount(delivered, "a change waiting at start is held back by the start-up jitter");

                // Within the jitter (10 minutes of the injected clock) it goes out.
                await Eventually.TrueAsync(() =>
                {
                    time.Advance(TimeSpan.FromSeconds(15));
                    return _platform.Accepted.Count > delivered;
                }, "delivered within the start-up jitter");
                (time.GetUtcNow() - startedAt).Should().BeLessThanOrEqualTo(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(30));
            }
            finally
            {
                TempDirectory.TryDelete(data);
            }
        }

        [Fact]
        public async Task An_enrolment_does_not_wait_for_the_startup_jitter()
        {
            var settings = PlatformSettings(_platform);
            settings["Platform:StartupJitter"] = "01:00:00";
            using var app = new ProvisionerApp(settings: settings, time: new FakeTimeProvider(DateTimeOffset.UtcNow));

            await EnrolAsync(app, _platform);

            _platform.Accepted.Should().ContainSingle().Which.GetProperty("trigger").GetString().Should().Be("enrolment");
        }
    }

    /// <summary>A platform that is away, failing or slow: a test class of its own so that it runs beside the others.</summary>
    public sealed class Outages : IAsyncLifetime
    {
        private FakePlatform _platform = null!;

        public async Task InitializeAsync() => _platform = await FakePlatform.StartAsync();

        public async Task DisposeAsync() => await _platform.DisposeAsync();

        [Fact]
        public async Task Changes_while_offline_are_kept_and_delivered_as_one_latest_wins_report()
        {
            using var app = new ProvisionerApp(settings: PlatformSettings(_platform));
            using var viewer = await app.CreateClientAsync(Role.Viewer);
            await EnrolAsync(app, _platform);
            var acceptedBefore = _platform.Accepted.Count;

            _platform.Mode = PlatformMode.Down;
            var instances = await DeployAsync(app, 3);
            var repo = app.Service<InstanceTransitions>();
            string[] path = [InstanceStates.Cloning, InstanceStates.Configuring, InstanceStates.Starting, InstanceStates.Waiting, InstanceStates.Personalising, InstanceStates.Active];
            foreach (var state in path)
            {
                foreach (var instance in instances)
                {
                    await repo.SetStateAsync(instance.Id, state, state);
                }
            }

            await repo.SetStateAsync(instances[2].Id, InstanceStates.Deleted, "Deleted");
            var changes = instances.Count * (path.Length + 1) + 1;
            await Eventually.TrueAsync(async () => (await StatusAsync(viewer)).Connection == PlatformConnection.Retrying, "retrying while down");
            var offline = await StatusAsync(viewer);
            offline.PendingChanges.Should().Be(changes);
            offline.LastError.Should().Contain("could not be reached");
            offline.NextAttemptAt.Should().NotBeNull();

            _platform.Mode = PlatformMode.Normal;
            await Eventually.TrueAsync(async () => (await StatusAsync(viewer)) is { Connection: PlatformConnection.Connected, PendingChanges: 0 }, "delivered after coming back");

            var delivered = _platform.Accepted.Skip(acceptedBefore).ToList();
            delivered.Should().ContainSingle("every change made while offline goes out in one report");
            var report = delivered[0];
            report.GetProperty("trigger").GetString().Should().Be("change");
            report.GetProperty("changesSinceLastReport").GetInt32().Should().Be(changes);
            States(report).Should().BeEquivalentTo(await StoredStatesAsync(app), "the report carries the latest state of every instance");
            States(report)[instances[2].Id].Should().Be(InstanceStates.Deleted);
            _platform.ContractViolations.Should().BeEmpty();
        }

        [Fact]
        public async Task Server_errors_busy_answers_and_slow_answers_are_retried_until_delivered()
        {
            using var app = new ProvisionerApp(settings: PlatformSettings(_platform));
            using var viewer = await app.CreateClientAsync(Role.Viewer);
            await EnrolAsync(app, _platform);
            var repo = app.Service<InstanceTransitions>();
            var instance = (await DeployAsync(app, 1))[0];
            await Eventually.TrueAsync(() => _platform.Latest is { } l && States(l).ContainsKey(instance.Id), "deploy reported");

            foreach (var (mode, error, state) in new[]
            {
                (PlatformMode.ServerError, "HTTP 500", InstanceStates.Cloning),
                (PlatformMode.Busy, "HTTP 503", InstanceStates.Starting),
                (PlatformMode.Slow, "did not answer in time", InstanceStates.Active),
            })
            {
                _platform.Mode = mode;
                await repo.SetStateAsync(instance.Id, state, state);
                await Eventually.TrueAsync(async () => (await StatusAsync(viewer)) is { Connection: PlatformConnection.Retrying, LastError: { } e } && e.Contains(error, StringComparison.Ordinal), $"{mode} seen");
                _platform.Mode = PlatformMode.Normal;
                await Eventually.TrueAsync(() => _platform.Latest is { } l && States(l).GetValueOrDefault(instance.Id) == state, $"{state} delivered after {mode}");
                await Eventually.TrueAsync(async () => (await StatusAsync(viewer)) is { Connection: PlatformConnection.Connected, LastError: null, ConsecutiveFailures: 0 }, $"recovered from {mode}");
            }

            _platform.ContractViolations.Should().BeEmpty();
        }
    }
}
