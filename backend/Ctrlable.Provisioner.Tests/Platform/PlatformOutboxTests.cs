using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.Time.Testing;
using static Ctrlable.Provisioner.Tests.Platform.PlatformHarness;

namespace Ctrlable.Provisioner.Tests.Platform;

/// <summary>The outbox triggers, the back-off on an injected clock, and the contract validator itself.</summary>
public sealed class PlatformOutboxTests
{
    [Fact]
    public async Task Every_writer_of_a_reported_field_records_a_change_and_other_writes_do_not()
    {
        using var app = new ProvisionerApp();
        await app.EnsureSetUpAsync();
        var platform = app.Service<PlatformRepository>();
        var repo = app.Service<InstanceRepository>();
        var database = app.Service<Database>();
        var before = await DeployAsync(app, 1);
        (await Pending()).Should().Be(0, "nothing is recorded before enrolment");

        await platform.SaveEnrolmentAsync("site-1", "https://platform.test/api", DateTimeOffset.UtcNow, CancellationToken.None);
        (await Reasons()).Should().Equal("enrolment");

        var id = (await DeployAsync(app, 2))[0].Id;
        (await Reasons()).Should().Equal("enrolment", "instance", "instance");

        async Task Expect(string what, Func<Task> change, int rows)
        {
            var count = await Pending();
            await change();
            (await Pending()).Should().Be(count + rows, what);
        }

        await Expect("state", () => app.Service<InstanceTransitions>().SetStateAsync(id, InstanceStates.Cloning, "Cloning"), 1);
        await Expect("same state, new message", () => app.Service<InstanceTransitions>().SetStateAsync(id, InstanceStates.Cloning, "Still cloning"), 0);
        await Expect("vmid reserved", () => repo.TryReserveVmidAsync(id, 4321, CancellationToken.None), 1);
        await Expect("vmid cleared", () => repo.ClearVmidAsync(id, CancellationToken.None), 1);
        await Expect("node", () => repo.SetCloneAsync(id, "pve2", "linked", CancellationToken.None), 1);
        await Expect("ip", () => repo.SetIpAsync(id, "10.0.0.9", CancellationToken.None), 0);
        await Expect("mac", () => repo.SetMacAsync(id, "BC:24:11:00:00:01", CancellationToken.None), 0);
        // The provision endpoints write their own SQL: the trigger sees any writer.
        await Expect("raw SQL state change", async () =>
        {
            await using var connection = await database.OpenAsync();
            await connection.ExecuteAsync("UPDATE instances SET state = 'personalising', updated_at = @now WHERE id = @id;", new { id, now = DateTimeOffset.UtcNow });
        }, 1);
        await Expect("release activation", () => app.Service<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", null, [], DateTimeOffset.UtcNow, CancellationToken.None), 1);
        await Expect("hard delete", async () =>
        {
            await using var connection = await database.OpenAsync();
            await connection.ExecuteAsync("DELETE FROM instance_state_changes WHERE instance_id = @id; DELETE FROM instances WHERE id = @id;", new { id = before[0].Id });
        }, 1);

        async Task<long> Pending() => (await platform.GetAsync(CancellationToken.None)).PendingChanges;

        async Task<string[]> Reasons()
        {
            await using var connection = await database.OpenAsync();
            return [.. await connection.QueryAsync<string>("SELECT reason FROM platform_outbox ORDER BY id;")];
        }
    }

    [Fact]
    public async Task The_outbox_row_commits_and_rolls_back_with_the_change_and_changed_at_follows_the_state()
    {
        using var app = new ProvisionerApp();
        await app.EnsureSetUpAsync();
        await app.Service<PlatformRepository>().SaveEnrolmentAsync("site-1", "https://platform.test/api", DateTimeOffset.UtcNow, CancellationToken.None);
        var id = (await DeployAsync(app, 1))[0].Id;
        await using var connection = await app.Service<Database>().OpenAsync();
        var count = await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM platform_outbox;");

        await using (var tx = await connection.BeginTransactionAsync())
        {
            await connection.ExecuteAsync("UPDATE instances SET state = 'failed', updated_at = '2030-01-01T00:00:00.0000000+00:00' WHERE id = @id;", new { id }, tx);
            (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM platform_outbox;", transaction: tx)).Should().Be(count + 1);
            await tx.RollbackAsync();
        }

        (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM platform_outbox;")).Should().Be(count, "the change and its outbox row go together");

        var changedAt = await connection.ExecuteScalarAsync<string>("SELECT changed_at FROM instances WHERE id = @id;", new { id });
        await connection.ExecuteAsync("UPDATE instances SET ip = '10.1.1.1', updated_at = '2031-01-01T00:00:00.0000000+00:00' WHERE id = @id;", new { id });
        (await connection.ExecuteScalarAsync<string>("SELECT changed_at FROM instances WHERE id = @id;", new { id })).Should().Be(changedAt, "an address is not a reported change");
        await connection.ExecuteAsync("UPDATE instances SET state = 'active', updated_at = '2032-01-01T00:00:00.0000000+00:00' WHERE id = @id;", new { id });
        (await connection.ExecuteScalarAsync<string>("SELECT changed_at FROM instances WHERE id = @id;", new { id })).Should().Be("2032-01-01T00:00:00.0000000+00:00");
    }

    [Fact]
    public async Task Failed_reports_back_off_exponentially_on_the_injected_clock()
    {
        await using var platform = await FakePlatform.StartAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        var settings = PlatformSettings(platform);
        settings["Platform:RetryBaseDelay"] = "00:10:00";
        settings["Platform:RetryMaxDelay"] = "00:40:00";
        using var app = new ProvisionerApp(settings: settings, time: time);
        using var admin = await app.CreateClientAsync(Role.Admin);
        var sender = app.Service<PlatformReporter>();
        platform.Mode = PlatformMode.ServerError;
        (await admin.PostAsJsonAsync("/api/platform/enrolment", new { code = platform.CreateCode() })).EnsureSuccessStatusCode();

        // Attempt n waits between half and all of base × 2^(n-1), capped: [5,10], [10,20], [20,40], [20,40] minutes.
        (double Min, double Max)[] windows = [(5, 10), (10, 20), (20, 40), (20, 40)];
        for (var n = 1; n <= windows.Length; n++)
        {
            await Eventually.TrueAsync(async () => (await StatusAsync(admin)).ConsecutiveFailures == n, $"failure {n}");
            var status = await StatusAsync(admin);
            var wait = (status.NextAttemptAt!.Value - status.LastAttemptAt!.Value).TotalMinutes;
            wait.Should().BeInRange(windows[n - 1].Min, windows[n - 1].Max, $"back-off after failure {n}");
            platform.Attempts.Should().HaveCount(n);

            // Just before the due time nothing is sent: once the sender sleeps after failure n (its timer armed, so
            // moving the clock wakes it), move the clock to a second before the due time and wait until the sender has
            // looked at that moment and gone back to sleep.
            await Eventually.TrueAsync(() => sender.LastSleep.Asleep, $"the sender sleeps after failure {n}");
            var justBefore = status.NextAttemptAt.Value - TimeSpan.FromSeconds(1);
            time.Advance(justBefore - time.GetUtcNow());
            await Eventually.TrueAsync(() => sender.LastSleep is { Asleep: true } sleep && sleep.At >= justBefore, $"the sender looked just before attempt {n + 1} is due");
            platform.Attempts.Should().HaveCount(n, $"no attempt before the back-off after failure {n} ends");
            if (n == windows.Length)
            {
                platform.Mode = PlatformMode.Normal;
            }

            // Past the due time it is sent. Small steps: the sender may only now be arming its next timer.
            await Eventually.TrueAsync(() =>
            {
                time.Advance(TimeSpan.FromMilliseconds(250));
                return platform.Attempts.Count == n + 1;
            }, $"attempt {n + 1} once the back-off ended");
        }

        await Eventually.TrueAsync(async () => (await StatusAsync(admin)).Connection == PlatformConnection.Connected, "delivered once the platform answers");
    }

    [Fact]
    public void Back_off_doubles_with_jitter_and_stays_under_the_cap()
    {
        var random = new Random(7);
        var baseDelay = TimeSpan.FromSeconds(10);
        var cap = TimeSpan.FromMinutes(30);
        for (var failures = 1; failures <= 40; failures++)
        {
            var step = Math.Min(10 * Math.Pow(2, failures - 1), cap.TotalSeconds);
            var delays = Enumerable.Range(0, 50).Select(_ => PlatformBackoff.Delay(failures, baseDelay, cap, random).TotalSeconds).ToList();
            delays.Should().OnlyContain(d => d >= step / 2 && d <= step, $"failure {failures}");
            delays.Distinct().Should().HaveCountGreaterThan(40, "jitter spreads sites that failed together");
        }
    }

    [Fact]
    public void The_contract_validator_accepts_a_built_report_and_names_what_is_wrong_in_a_broken_one()
    {
        var snapshot = new PlatformSnapshot("site-1", 3, 10, 2, false, null, [],
            [new ReportedInstance(1, "acme", "zwavejs", "lxc", "acme-zwavejs", InstanceStates.Active, "2026.06", "pve1", 101, DateTimeOffset.UtcNow)]);
        var report = PlatformReporter.Build(snapshot, new HostSummary(false, true, [new HostNode("pve1", "online", 8, 0.1, 1, 2, 3)]), DateTimeOffset.UtcNow);
        var json = JsonSerializer.SerializeToElement(report, PlatformJson.Options);

        PlatformContract.Validate("SiteReport", json).Should().BeEmpty();
        PlatformContract.Operations.Should().BeEquivalentTo(["POST /v1/enrolments", "POST /v1/sites/{siteId}/reports", "DELETE /v1/sites/{siteId}/enrolment"]);

        var broken = System.Text.Json.Nodes.JsonNode.Parse(json.GetRawText())!.AsObject();
        broken["instances"]![0]!["state"] = "exploded";
        broken.Remove("sequence");
        var errors = PlatformContract.Validate("SiteReport", JsonSerializer.SerializeToElement(broken));
        errors.Should().Contain(e => e.Contains("sequence", StringComparison.Ordinal));
        errors.Should().Contain(e => e.Contains("/instances/0/state", StringComparison.Ordinal));
    }
}
