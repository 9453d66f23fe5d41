using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Faults;

namespace Ctrlable.Provisioner.Tests.Alerts;

/// <summary>
/// Alerts for real deploy failures (the emulator's start task fails, as in <see cref="DeployFailureTests"/>): a webhook on a
/// local sink, signed; one notification per incident however often the instance fails, and "resolved" once it is active.
/// </summary>
public sealed class DeployAlertTests(DeployFailureTests.Site site) : IClassFixture<DeployFailureTests.Site>
{
    private const string SigningSecret = "whsec-for-the-deploy-alert-test";

    [Fact]
    public async Task A_failed_deploy_is_posted_to_the_webhook_signed_with_its_secret()
    {
        await using var sink = await HttpSink.StartAsync();
        using var admin = await site.App.CreateClientAsync(Role.Admin);
        await CreateWebhookAsync(admin, sink, "deploy failures");
        FailStartTasksWhile(() => true);
        try
        {
            var project = await DeployApiTests.CreateProjectAsync(site.Client, "Alerted");
            (await site.Client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
            var failed = await site.SettledAsync(project);
            failed.GetProperty("state").GetString().Should().Be("failed");
            var subject = $"instance/{failed.GetProperty("id").GetInt64()}";

            var received = await OneAsync(sink, subject, "open");

            received.Header("content-type").Should().StartWith("application/json");
            received.Header(WebhookSender.SignatureHeader).Should().Be("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(SigningSecret), received.Body)),
                "the signature is the HMAC-SHA256 of the exact body under the target's secret");
            var body = received.Json;
            body.GetProperty("event").GetString().Should().Be("deploy-failed");
            body.GetProperty("severity").GetString().Should().Be("critical");
            body.GetProperty("title").GetString().Should().Be("Deploy of alerted-zwavejs failed");
            body.GetProperty("detail").GetString().Should().Contain("Start failed").And.Contain("startup for container");
            body.GetProperty("site").GetString().Should().NotBeNullOrEmpty();
            body.GetProperty("project").GetProperty("id").GetInt64().Should().Be(project);
            body.GetProperty("project").GetProperty("name").GetString().Should().Be("Alerted");
            body.GetProperty("instance").GetProperty("hostname").GetString().Should().Be("alerted-zwavejs");
            body.GetProperty("at").GetDateTimeOffset().Should().BeAfter(DateTimeOffset.UnixEpoch);
        }
        finally
        {
            site.Pve.Sim.Faults.Reset();
            site.Pve.Sim.Intercept = null;
        }
    }

    [Fact]
    public async Task Two_failures_of_one_instance_send_one_notification_and_its_recovery_sends_resolved()
    {
        await using var sink = await HttpSink.StartAsync();
        using var admin = await site.App.CreateClientAsync(Role.Admin);
        await CreateWebhookAsync(admin, sink, "dedup");
        var failing = true;
        FailStartTasksWhile(() => failing);
        try
        {
            var project = await DeployApiTests.CreateProjectAsync(site.Client, "Twice");
            (await site.Client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
            var failed = await site.SettledAsync(project);
            var id = failed.GetProperty("id").GetInt64();
            var subject = $"instance/{id}";
            await OneAsync(sink, subject, "open");

            // The second failure is counted on the open incident, not notified.
            (await site.Client.PostAsync($"/api/instances/{id}/retry", null)).EnsureSuccessStatusCode();
            await Eventually.TrueAsync(async () => (await IncidentAsync(admin, subject)).GetProperty("events").GetInt64() == 2, "the second failure counted");

            failing = false;
            (await site.Client.PostAsync($"/api/instances/{id}/retry", null)).EnsureSuccessStatusCode();
            (await site.SettledAsync(project)).GetProperty("state").GetString().Should().Be("active");
            var resolved = await OneAsync(sink, subject, "resolved");

            resolved.Json.GetProperty("title").GetString().Should().Be("Resolved: Deploy of twice-zwavejs failed");
            resolved.Json.GetProperty("detail").GetString().Should().Be("twice-zwavejs is active.");
            // The outbox delivers in order: a duplicate "open" would have come before the "resolved".
            Of(sink, subject).Select(r => r.Json.GetProperty("state").GetString()).Should().Equal("open", "resolved");
            var incident = await IncidentAsync(admin, subject);
            incident.GetProperty("resolvedAt").ValueKind.Should().NotBe(JsonValueKind.Null);
            incident.GetProperty("notifiedAt").ValueKind.Should().NotBe(JsonValueKind.Null);
        }
        finally
        {
            site.Pve.Sim.Faults.Reset();
            site.Pve.Sim.Intercept = null;
        }
    }

    [Fact]
    public async Task A_guest_stopped_outside_the_orchestrator_opens_an_incident_and_one_stopped_through_it_does_not()
    {
        var project = await DeployApiTests.CreateProjectAsync(site.Client, "Stops");
        (await site.Client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
        (await site.Client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
        var instances = await DeployApiTests.WaitForAsync(site.Client, project, i => i.GetProperty("state").GetString() is "active" or "failed");
        instances.Should().HaveCount(2).And.OnlyContain(i => i.GetProperty("state").GetString() == "active");
        var (asked, crashed) = (instances[0], instances[1]);

        (await site.Client.PostAsync($"/api/instances/{asked.GetProperty("id").GetInt64()}/stop", null)).EnsureSuccessStatusCode();
        SetRunning(crashed, false); // stopped behind the orchestrator's back (a crash, someone on the host)
        await MonitorSeesAsync(crashed, "stopped");
        await site.App.Service<AlertMonitor>().CheckAsync(CancellationToken.None);

        using var admin = await site.App.CreateClientAsync(Role.Admin);
        var open = (await admin.GetFromJsonAsync<JsonElement>("/api/alerts/incidents?open=true")).EnumerateArray().Where(i => i.GetProperty("kind").GetString() == "guest-stopped").ToList();
        open.Select(i => i.GetProperty("instanceId").GetInt64()).Should().Equal(crashed.GetProperty("id").GetInt64());
        open[0].GetProperty("title").GetString().Should().Be($"{crashed.GetProperty("hostname").GetString()} stopped unexpectedly");

        SetRunning(crashed, true);
        await MonitorSeesAsync(crashed, "running");
        await site.App.Service<AlertMonitor>().CheckAsync(CancellationToken.None);
        (await admin.GetFromJsonAsync<JsonElement>("/api/alerts/incidents?open=true")).EnumerateArray()
            .Should().NotContain(i => i.GetProperty("kind").GetString() == "guest-stopped", "it runs again: resolved");
    }

    private void SetRunning(JsonElement instance, bool running)
    {
        lock (site.Pve.Sim.State.Sync)
        {
            site.Pve.Sim.State.Guests[instance.GetProperty("vmid").GetInt32()].Running = running;
        }
    }

    /// <summary>Waits until the dashboard's shared poll (what the monitor reads) shows the guest in <paramref name="status"/>.</summary>
    private async Task MonitorSeesAsync(JsonElement instance, string status) =>
        await Eventually.TrueAsync(async () =>
        {
            var (snapshot, _) = await site.App.Service<Ctrlable.Provisioner.Dashboard.DashboardService>().GetAsync(CancellationToken.None);
            return snapshot?.Projects.SelectMany(p => p.Guests).Any(g => g.Vmid == instance.GetProperty("vmid").GetInt32() && g.Status == status) == true;
        }, $"the dashboard sees {instance.GetProperty("hostname")} {status}");

    internal static async Task<long> CreateWebhookAsync(HttpClient admin, HttpSink sink, string name, string? secret = SigningSecret)
    {
        var response = await admin.PostAsJsonAsync("/api/alerts/targets", new
        {
            name,
            kind = "webhook",
            webhook = new { url = sink.Url + "/hook" },
            secrets = new { signingSecret = secret },
        });
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static IEnumerable<SinkRequest> Of(HttpSink sink, string subject) =>
        sink.Requests.Where(r => r.Json.GetProperty("subject").GetString() == subject);

    private static async Task<SinkRequest> OneAsync(HttpSink sink, string subject, string state)
    {
        await Eventually.TrueAsync(() => Of(sink, subject).Any(r => r.Json.GetProperty("state").GetString() == state), $"the {state} notification of {subject}");
        return Of(sink, subject).Single(r => r.Json.GetProperty("state").GetString() == state);
    }

    private static async Task<JsonElement> IncidentAsync(HttpClient admin, string subject) =>
        (await admin.GetFromJsonAsync<JsonElement>("/api/alerts/incidents")).EnumerateArray().Single(i => i.GetProperty("subject").GetString() == subject);

    private void FailStartTasksWhile(Func<bool> failing) => site.Pve.Sim.Intercept = async (call, next) =>
    {
        if (failing() && call.Method == "POST" && call.Path.EndsWith("/status/start", StringComparison.Ordinal))
        {
            site.Pve.Sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = "startup for container '1000' failed" };
            await next();
            site.Pve.Sim.Faults.Reset();
            return;
        }

        await next();
    };
}
