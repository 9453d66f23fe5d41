using System.Net;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Auth;

/// <summary>
/// Reads that hand out secrets are audited like writes: a guest's first-boot assignment, the build plan and the release
/// secret. One entry per read, whatever its outcome: who (guest host name or build, and the client address), what,
/// when, the status; never the secret.
/// </summary>
public sealed class AuditedReadsTests
{
    [Fact]
    public async Task Every_fetch_of_a_first_boot_assignment_is_one_audit_entry_naming_the_guest_and_its_address()
    {
        await using var h = await FirstBootHarness.StartAsync();
        var guest = await h.DeployAsync(TemplateTypes.ZwaveJs);
        using var client = await h.GuestClientAsync(guest);
        var address = (await h.AddressOfAsync(guest)).ToString();

        var fetched = await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");
        var body = await fetched.Content.ReadAsStringAsync();
        fetched.StatusCode.Should().Be(HttpStatusCode.OK, body);
        using var stranger = await h.GuestClientAsync(guest, withSecret: false);
        stranger.DefaultRequestHeaders.Add("X-Ctrlable-Secret", "not-the-release-secret");
        (await stranger.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.Forbidden);

        var entries = (await h.App.Service<AuditRepository>().PageAsync(1, 100)).Items
            .Where(e => e.Route == "/api/provision/assignment").OrderBy(e => e.Id).ToList();

        entries.Select(e => (e.Method, e.ActorName, e.RemoteIp, e.StatusCode)).Should().Equal(
            ("GET", guest.Hostname, address, 200L),
            ("GET", guest.Hostname, address, 403L));
        entries.Should().OnlyContain(e => e.At > DateTimeOffset.UtcNow.AddMinutes(-5));
        var audited = string.Join("\n", entries.Select(e => $"{e.ActorKind} {e.ActorName} {e.Target}"));
        audited.Should().NotContain(h.ReleaseSecret).And.NotContain("not-the-release-secret");
        foreach (var line in body.Split('"').Where(v => v.Length >= 16))
        {
            audited.Should().NotContain(line, "nothing of the answer is in the audit log");
        }
    }

    [Fact]
    public async Task The_build_plan_and_the_release_secret_hand_over_are_each_one_audit_entry_naming_the_build()
    {
        using var app = new ProvisionerApp();
        await app.EnsureSetUpAsync();
        var ticket = BuildTickets.New();
        var id = await app.Service<BuildRepository>().CreateAsync("2026.06", "test-host", "tester", false, "2026-05-30", BuildTickets.Hash(ticket),
            DateTimeOffset.UtcNow.AddMinutes(240), [], DateTimeOffset.UtcNow, CancellationToken.None);
        using var wrapper = app.CreateClient();
        wrapper.DefaultRequestHeaders.Authorization = new("Bearer", ticket);

        (await wrapper.GetAsync("/api/build-host/plan")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await wrapper.GetAsync("/api/build-host/plan")).StatusCode.Should().Be(HttpStatusCode.Conflict);
        var secret = await (await wrapper.PostAsync("/api/build-host/secret?reuse=0", null)).Content.ReadAsStringAsync();
        using var stranger = app.CreateClient();
        stranger.DefaultRequestHeaders.Authorization = new("Bearer", BuildTickets.New());
        (await stranger.GetAsync("/api/build-host/plan")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        var entries = (await app.Service<AuditRepository>().PageAsync(1, 100)).Items
            .Where(e => e.Route.StartsWith("/api/build-host/", StringComparison.Ordinal)).OrderBy(e => e.Id).ToList();

        entries.Select(e => $"{e.Method} {e.Route} {e.ActorName} [{e.Target}] {e.StatusCode}").Should().Equal(
            $"GET /api/build-host/plan build {id} (ticket) [release=2026.06] 200",
            $"GET /api/build-host/plan build {id} (ticket) [release=2026.06] 409",
            $"POST /api/build-host/secret build {id} (ticket) [release=2026.06; reuse=0] 200",
            "GET /api/build-host/plan  [] 401");
        entries.Should().OnlyContain(e => e.At > DateTimeOffset.UtcNow.AddMinutes(-5));
        string.Join("\n", entries.Select(e => $"{e.ActorName} {e.Target}")).Should().NotContain(secret).And.NotContain(ticket);
    }

    [Fact]
    public void Exactly_the_secret_handing_endpoints_audit_their_reads()
    {
        using var app = new ProvisionerApp();

        var audited = AuthMatrixTests.Endpoints(app)
            .Where(e => e.Metadata.GetMetadata<AuditReadsMetadata>() is not null)
            .Select(e => e.RoutePattern.RawText)
            .ToList();

        audited.Should().BeEquivalentTo(["/api/provision/assignment", "/api/provision/complete", "/api/build-host/plan", "/api/build-host/secret"]);
    }
}
