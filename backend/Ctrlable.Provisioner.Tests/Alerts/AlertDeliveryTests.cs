using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Alerts;

/// <summary>Delivery to each kind of target against local sinks, the hourly limit, and secrets kept out of answers and logs.</summary>
public sealed class AlertDeliveryTests
{
    private static Incident Failure(string subject, string title = "Deploy of site-zwavejs failed") =>
        new(AlertKinds.DeployFailed, subject, AlertSeverities.Critical, title, "Start failed: TASK ERROR") { ProjectId = 1, ProjectName = "Site" };

    [Fact]
    public async Task Beyond_the_hourly_limit_notifications_wait_and_then_go_out_as_one_summary()
    {
        using var alerts = await AlertOutboxHarness.StartAsync(new AlertsOptions { MaxPerTargetPerHour = 2 });
        await using var sink = await HttpSink.StartAsync();
        await alerts.AddWebhookAsync(sink);

        await alerts.Events.RaiseAsync(Failure("instance/1"), CancellationToken.None);
        await alerts.Events.RaiseAsync(Failure("instance/2"), CancellationToken.None);
        await alerts.RoundAsync();
        sink.Requests.Should().HaveCount(2, "two fit in the hour, one message each");
        foreach (var subject in new[] { "instance/3", "instance/4", "instance/5" })
        {
            await alerts.Events.RaiseAsync(Failure(subject), CancellationToken.None);
        }

        alerts.Time.Advance(TimeSpan.FromMinutes(30));
        var next = await alerts.RoundAsync();
        sink.Requests.Should().HaveCount(2, "the hour's two messages are used up");
        next.Should().Be(alerts.Time.GetUtcNow() + TimeSpan.FromMinutes(30), "the sender comes back when the first message is an hour old");

        alerts.Time.Advance(TimeSpan.FromMinutes(31));
        await alerts.RoundAsync();

        sink.Requests.Should().HaveCount(3, "the three held back go out as one");
        var summary = sink.Requests[2].Json;
        summary.GetProperty("event").GetString().Should().Be("summary");
        summary.GetProperty("subject").GetString().Should().Be("3 notifications");
        summary.GetProperty("detail").GetString()!.Split('\n').Should().HaveCount(3)
            .And.Contain(l => l.Contains("instance/3", StringComparison.Ordinal)).And.Contain(l => l.Contains("instance/5", StringComparison.Ordinal));
        (await alerts.Events.ListAsync(openOnly: true, 10, CancellationToken.None)).Should().HaveCount(5).And.OnlyContain(i => i.NotifiedAt != null);
        await alerts.RoundAsync();
        sink.Requests.Should().HaveCount(3, "nothing is owed any more");
    }

    [Fact]
    public async Task A_warning_that_turns_critical_is_notified_again_once_and_a_lower_or_equal_event_only_counted()
    {
        using var alerts = await AlertOutboxHarness.StartAsync(new AlertsOptions());
        await using var sink = await HttpSink.StartAsync();
        await alerts.AddWebhookAsync(sink);
        Incident Certificate(string severity, string title) => new(AlertKinds.CertificateExpiry, "certificate", severity, title, "Valid until …");

        (await alerts.Events.RaiseAsync(Certificate(AlertSeverities.Warning, "expires in 5 day(s)"), CancellationToken.None)).Should().BeTrue();
        await alerts.RoundAsync();
        (await alerts.Events.RaiseAsync(Certificate(AlertSeverities.Warning, "expires in 4 day(s)"), CancellationToken.None)).Should().BeFalse();
        await alerts.RoundAsync();
        sink.Requests.Should().ContainSingle("a repeat of the same severity is counted, not sent");

        (await alerts.Events.RaiseAsync(Certificate(AlertSeverities.Critical, "has expired"), CancellationToken.None)).Should().BeTrue("it escalated");
        await alerts.RoundAsync();
        (await alerts.Events.RaiseAsync(Certificate(AlertSeverities.Critical, "has expired"), CancellationToken.None)).Should().BeFalse();
        (await alerts.Events.RaiseAsync(Certificate(AlertSeverities.Warning, "expires in 0 day(s)"), CancellationToken.None)).Should().BeFalse("never back down to a warning");
        await alerts.RoundAsync();

        sink.Requests.Select(r => (r.Json.GetProperty("state").GetString(), r.Json.GetProperty("severity").GetString(), r.Json.GetProperty("title").GetString()))
            .Should().Equal(("open", "warning", "expires in 5 day(s)"), ("open", "critical", "has expired"));
        var incident = (await alerts.Events.ListAsync(openOnly: true, 10, CancellationToken.None)).Should().ContainSingle().Subject;
        incident.Severity.Should().Be(AlertSeverities.Critical);
        incident.Events.Should().Be(5);

        await alerts.Events.ResolveAsync(AlertKinds.CertificateExpiry, "certificate", "Replaced.", CancellationToken.None);
        await alerts.RoundAsync();
        sink.Requests.Should().HaveCount(3).And.Subject.Last().Json.GetProperty("state").GetString().Should().Be("resolved");
    }

    [Fact]
    public async Task A_failed_delivery_is_retried_after_a_back_off_on_the_injected_clock()
    {
        using var alerts = await AlertOutboxHarness.StartAsync(new AlertsOptions { RetryBaseDelay = TimeSpan.FromMinutes(1) });
        await using var sink = await HttpSink.StartAsync();
        sink.Status = 503;
        await alerts.AddWebhookAsync(sink);

        await alerts.Events.RaiseAsync(Failure("instance/7"), CancellationToken.None);
        var next = await alerts.RoundAsync();
        sink.Requests.Should().HaveCount(1);
        next.Should().BeOnOrAfter(alerts.Time.GetUtcNow() + TimeSpan.FromSeconds(30)).And.BeOnOrBefore(alerts.Time.GetUtcNow() + TimeSpan.FromMinutes(1),
            "the first back-off is half to all of RetryBaseDelay");

        sink.Status = 200;
        await alerts.RoundAsync();
        sink.Requests.Should().HaveCount(1, "no retry before the back-off has passed");

        alerts.Time.Advance(TimeSpan.FromMinutes(1));
        await alerts.RoundAsync();
        sink.Requests.Should().HaveCount(2, "the retry once the back-off has passed");
        sink.Requests[1].Json.GetProperty("subject").GetString().Should().Be("instance/7");
    }

    [Fact]
    public async Task Ntfy_gets_the_message_on_its_topic_with_title_priority_tags_and_the_bearer_token()
    {
        using var app = new ProvisionerApp(settings: new Dictionary<string, string?> { ["Alerts:SiteName"] = "Müller site", ["Alerts:OrchestratorUrl"] = "https://192.0.2.20:8443" });
        await using var sink = await HttpSink.StartAsync();
        using var admin = await app.CreateClientAsync(Role.Admin);
        (await admin.PostAsJsonAsync("/api/alerts/targets", new
        {
            name = "phone",
            kind = "ntfy",
            ntfy = new { server = sink.Url, topic = "ctrlable-alerts" },
            secrets = new { token = "tk_ntfytokenfortests" },
        })).StatusCode.Should().Be(HttpStatusCode.Created);

        await app.Service<AlertEvents>().RaiseAsync(Failure("instance/3") with { LinkPath = "/projects/1" }, CancellationToken.None);
        await Eventually.TrueAsync(() => sink.Requests.Count == 1, "the ntfy publish");

        var publish = sink.Requests[0];
        publish.Method.Should().Be("POST");
        publish.Path.Should().Be("/ctrlable-alerts");
        publish.Header("Title").Should().Be("[M?ller site] Deploy of site-zwavejs failed");
        publish.Header("Priority").Should().Be("urgent");
        publish.Header("Tags").Should().Be("rotating_light,deploy-failed");
        publish.Header("Authorization").Should().Be("Bearer tk_ntfytokenfortests");
        publish.Header("Click").Should().Be("https://192.0.2.20:8443/projects/1");
        publish.Text.Should().Be("Start failed: TASK ERROR\nhttps://192.0.2.20:8443/projects/1");
    }

    [Fact]
    public async Task Smtp_sends_over_starttls_validating_the_server_through_the_configured_ca_and_never_without_it()
    {
        using var app = new ProvisionerApp();
        await using var smtp = SmtpSink.Start();
        using var admin = await app.CreateClientAsync(Role.Admin);
        var trusted = await CreateSmtpAsync(admin, smtp, "mail", smtp.CaPem);
        var untrusted = await CreateSmtpAsync(admin, smtp, "mail without the CA", null);

        var refused = await (await admin.PostAsync($"/api/alerts/targets/{untrusted}/test", null)).Content.ReadFromJsonAsync<JsonElement>();
        refused.GetProperty("delivered").GetBoolean().Should().BeFalse();
        refused.GetProperty("answer").GetString().Should().Contain("certificate is not trusted");
        smtp.SignIns.Should().BeEmpty("nothing is sent, the password least of all, to a server that is not trusted");

        var response = await admin.PostAsync($"/api/alerts/targets/{trusted}/test", null);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        result.GetProperty("delivered").GetBoolean().Should().BeTrue(result.GetProperty("answer").GetString());
        result.GetProperty("answer").GetString().Should().Contain("2.0.0 queued as test-1");
        smtp.SignIns.Should().Equal([("alerts@dealer.example", "smtp-password-for-tests")]);
        var message = smtp.Messages.Single();
        message.Subject.Should().EndWith("Test notification from Ctrlable Provisioner");
        message.To.Mailboxes.Select(m => m.Address).Should().Equal("dealer@dealer.example");
        message.From.Mailboxes.Single().Address.Should().Be("alerts@dealer.example");
    }

    [Fact]
    public async Task Target_secrets_are_never_in_an_answer_a_log_line_or_the_database_in_clear()
    {
        string[] secrets = ["whsec-never-shown-1", "Bearer header-never-shown-2", "tk_never-shown-3", "smtp-never-shown-4"];
        using var app = new ProvisionerApp();
        await using var sink = await HttpSink.StartAsync();
        using var admin = await app.CreateClientAsync(Role.Admin);
        var webhook = await Created(await admin.PostAsJsonAsync("/api/alerts/targets", new
        {
            name = "hook",
            kind = "webhook",
            webhook = new { url = sink.Url + "/hook", headerName = "Authorization" },
            secrets = new { signingSecret = secrets[0], headerValue = secrets[1] },
        }));
        await Created(await admin.PostAsJsonAsync("/api/alerts/targets", new
        {
            name = "ntfy",
            kind = "ntfy",
            ntfy = new { server = sink.Url, topic = "t" },
            secrets = new { token = secrets[2] },
        }));
        await Created(await admin.PostAsJsonAsync("/api/alerts/targets", new
        {
            name = "mail",
            kind = "smtp",
            smtp = new { host = "127.0.0.1", port = TestPorts.Free(), username = "u@dealer.example", from = "a@dealer.example", to = new[] { "d@dealer.example" } },
            secrets = new { password = secrets[3] },
        }));

        await app.Service<AlertEvents>().RaiseAsync(Failure("instance/9"), CancellationToken.None);
        await Eventually.TrueAsync(() => sink.Requests.Count == 2, "webhook and ntfy delivered");
        sink.Requests.Single(r => r.Path == "/hook").Header("Authorization").Should().Be(secrets[1], "the header secret is sent where it was entered for");
        foreach (var target in (await admin.GetFromJsonAsync<JsonElement>("/api/alerts/targets")).EnumerateArray())
        {
            (await admin.PostAsync($"/api/alerts/targets/{target.GetProperty("id").GetInt64()}/test", null)).EnsureSuccessStatusCode();
        }

        var list = await admin.GetStringAsync("/api/alerts/targets");
        var one = await admin.GetStringAsync($"/api/alerts/targets/{webhook}");
        JsonDocument.Parse(one).RootElement.GetProperty("secretsStored").GetProperty("signingSecret").GetBoolean().Should().BeTrue();
        // Pointing the webhook elsewhere without entering the secrets again is refused: they never follow a new URL.
        var moved = await admin.PutAsJsonAsync($"/api/alerts/targets/{webhook}", new { name = "hook", kind = "webhook", webhook = new { url = "http://127.0.0.1:9/elsewhere", headerName = "Authorization" } });
        moved.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await moved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(e => e.Name)
            .Should().BeEquivalentTo("secrets.signingSecret", "secrets.headerValue");

        var database = await File.ReadAllBytesAsync(app.DatabasePath);
        var wal = File.Exists(app.DatabasePath + "-wal") ? await File.ReadAllBytesAsync(app.DatabasePath + "-wal") : [];
        foreach (var secret in secrets)
        {
            list.Should().NotContain(secret);
            one.Should().NotContain(secret);
            app.Logs.Lines.Should().NotContain(l => l.Contains(secret, StringComparison.Ordinal));
            Contains(database, secret).Should().BeFalse();
            Contains(wal, secret).Should().BeFalse();
        }
    }

    private static async Task<long> CreateSmtpAsync(HttpClient admin, SmtpSink smtp, string name, string? ca) => await Created(await admin.PostAsJsonAsync("/api/alerts/targets", new
    {
        name,
        kind = "smtp",
        smtp = new { host = "127.0.0.1", port = smtp.Port, username = "alerts@dealer.example", from = "alerts@dealer.example", to = new[] { "dealer@dealer.example" }, caCertificatePem = ca },
        secrets = new { password = "smtp-password-for-tests" },
    }));

    private static async Task<long> Created(HttpResponseMessage response)
    {
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(needle)) >= 0;
}
