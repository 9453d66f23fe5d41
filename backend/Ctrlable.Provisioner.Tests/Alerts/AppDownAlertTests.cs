using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.GuestBackups;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Alerts;

/// <summary>
/// "App down for N minutes" (SPEC §8g): a deployed Z-Wave JS UI whose app stops answering (the emulator stops it inside
/// the running guest) opens <c>app-down</c> only once it has been down for <c>Alerts:AppDownMinutes</c>, is notified once
/// however many rounds see it, and resolves when the app answers again. The monitor's rounds are run by the test on the
/// backups' jumping clock (real time plus an offset: the dashboard's probes and Proxmox run in real time; the monitor's
/// own loop waits a day).
/// </summary>
public sealed class AppDownAlertTests
{
    private const int AppDownMinutes = 10;

    [Fact]
    public async Task An_app_down_for_the_configured_minutes_is_notified_once_and_resolved_when_it_answers()
    {
        var clock = new JumpingClock(DateTimeOffset.UtcNow);
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var settings = ProvisionerApp.ProxmoxSettings(pve);
        settings["Alerts:AppDownMinutes"] = $"{AppDownMinutes}";
        settings["Alerts:CheckInterval"] = "1.00:00:00";
        settings["Dashboard:CacheSeconds"] = "1";
        using var app = new ProvisionerApp(settings: settings, https: true, time: clock);
        await DeployFailureTests.Site.ActivateAsync(app);
        boot.Connect(FirstBootGuests.Behaviour(app));
        await using var sink = await HttpSink.StartAsync();
        using var admin = await app.CreateClientAsync(Role.Admin);
        await DeployAlertTests.CreateWebhookAsync(admin, sink, "app health");

        var project = await DeployApiTests.CreateProjectAsync(admin, "Quiet");
        (await admin.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
        var instance = (await DeployApiTests.WaitForAsync(admin, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();
        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        var vmid = instance.GetProperty("vmid").GetInt32();
        var subject = $"instance/{instance.GetProperty("id").GetInt64()}";
        var monitor = app.Service<AlertMonitor>();
        await AppSeenAsync(app, vmid, AppState.Up);

        (await pve.Sim.StopAppAsync(vmid)).Should().BeTrue();
        var since = await AppSeenAsync(app, vmid, AppState.Down);

        // Down, but not yet for the configured minutes: nothing.
        clock.JumpTo(since.AddMinutes(AppDownMinutes).AddSeconds(-30));
        await monitor.CheckAsync(CancellationToken.None);
        (await IncidentsAsync(admin, subject)).Should().BeEmpty();

        // Ten minutes down: one incident, one notification however many rounds see it.
        clock.JumpTo(since.AddMinutes(AppDownMinutes).AddSeconds(1));
        await monitor.CheckAsync(CancellationToken.None);
        clock.JumpTo(since.AddMinutes(AppDownMinutes + 2));
        await monitor.CheckAsync(CancellationToken.None);
        var incident = (await IncidentsAsync(admin, subject)).Should().ContainSingle().Subject;
        incident.GetProperty("severity").GetString().Should().Be("critical");
        incident.GetProperty("title").GetString().Should().Be("The app of quiet-zwavejs is down");
        incident.GetProperty("events").GetInt32().Should().Be(2);
        incident.GetProperty("resolvedAt").ValueKind.Should().Be(JsonValueKind.Null);
        await Eventually.TrueAsync(() => Notifications(sink, subject, "open").Any(), "the app-down notification");

        // It answers again: resolved, and said so once.
        pve.Sim.StartApp(vmid).Should().BeTrue();
        await AppSeenAsync(app, vmid, AppState.Up);
        await monitor.CheckAsync(CancellationToken.None);
        (await IncidentsAsync(admin, subject)).Single().GetProperty("resolvedAt").ValueKind.Should().Be(JsonValueKind.String);
        await Eventually.TrueAsync(() => Notifications(sink, subject, "resolved").Any(), "the resolved notification");
        await monitor.CheckAsync(CancellationToken.None);

        Notifications(sink, subject, "open").Should().ContainSingle();
        var resolved = Notifications(sink, subject, "resolved").Should().ContainSingle().Subject;
        resolved.GetProperty("detail").GetString().Should().Contain("answers again");
    }

    /// <summary>Waits until the dashboard's shared poll (what the monitor reads) shows the guest's app in <paramref name="state"/>; returns since when.</summary>
    private static async Task<DateTimeOffset> AppSeenAsync(ProvisionerApp app, int vmid, AppState state)
    {
        DateTimeOffset since = default;
        await Eventually.TrueAsync(async () =>
        {
            var (snapshot, _) = await app.Service<DashboardService>().GetAsync(CancellationToken.None);
            var health = snapshot?.Projects.SelectMany(p => p.Guests).FirstOrDefault(g => g.Vmid == vmid)?.App;
            since = health?.Since ?? default;
            return health?.State == state;
        }, $"the dashboard sees the app of {vmid} {state}");
        return since;
    }

    private static async Task<IReadOnlyList<JsonElement>> IncidentsAsync(HttpClient admin, string subject) =>
        [.. (await admin.GetFromJsonAsync<JsonElement>("/api/alerts/incidents")).EnumerateArray()
            .Where(i => i.GetProperty("kind").GetString() == AlertKinds.AppDown && i.GetProperty("subject").GetString() == subject)];

    private static List<JsonElement> Notifications(HttpSink sink, string subject, string state) =>
        [.. sink.Requests.Select(r => r.Json).Where(j => j.GetProperty("event").GetString() == AlertKinds.AppDown
            && j.GetProperty("subject").GetString() == subject && j.GetProperty("state").GetString() == state)];
}
