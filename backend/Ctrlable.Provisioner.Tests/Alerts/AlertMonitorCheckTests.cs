using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.Provisioner.Tls;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.Provisioner.Tests.Alerts;

/// <summary>
/// The monitor's periodic checks that need no guest: the platform not reached for hours and the TLS certificate near
/// its end. Each check is run by the test on a fake clock, so nothing waits for a background loop (the guest check
/// reads the dashboard's Proxmox poll, which a clock moved by months would stall); the incidents are read back as
/// the Settings page reads them.
/// </summary>
public sealed class AlertMonitorCheckTests : IAsyncLifetime
{
    private const int UnreachableHours = 6;
    private const int ExpiryDays = 21;

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly string _certificateDirectory = TempDirectory.Create("alert-certificate");
    private readonly ProvisionerApp _app;

    // The orchestrator's own certificate lives ten years; one that ends in 40 days keeps the clock's moves short (a fake
    // clock moved by years fires every periodic timer of the host once per missed period).
    public AlertMonitorCheckTests() => _app = new ProvisionerApp(time: _time, settings: new Dictionary<string, string?>
    {
        ["Tls:CertificatePath"] = ShortLivedCertificate(_certificateDirectory, _time.GetUtcNow().AddDays(40)),
        // Configured but never reached: the failures below are what the reporter records against it. Its own next
        // attempt is a month away (heartbeat, back-off), so only the test moves the state.
        ["Platform:Url"] = "https://127.0.0.1:9/api",
        ["Platform:Heartbeat"] = "30.00:00:00",
        ["Alerts:PlatformUnreachableHours"] = $"{UnreachableHours}",
        ["Alerts:CertificateExpiryDays"] = $"{ExpiryDays}",
        // The clock moves by hours and weeks here and the checks are called by the test: the host's periodic work
        // (address following every minute, the backup scheduler's looks, the snapshot sweep) would run once per missed
        // period — 50,000 rounds for five weeks — so it runs rarely or not at all.
        ["Addressing:FollowIntervalSeconds"] = "0",
        ["GuestBackups:CheckIntervalSeconds"] = "3600",
        ["Upgrades:SweepIntervalMinutes"] = "1440",
    });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        TempDirectory.TryDelete(_certificateDirectory);
    }

    private static string ShortLivedCertificate(string directory, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(notAfter.AddDays(-400), notAfter);
        var path = Path.Combine(directory, "short-lived.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12));
        return path;
    }

    [Fact]
    public async Task An_enrolled_site_whose_reports_fail_for_hours_opens_platform_unreachable_once_and_a_delivery_resolves_it()
    {
        var platform = _app.Service<PlatformRepository>();
        var monitor = _app.Service<AlertMonitor>();
        var enrolled = _time.GetUtcNow();
        await platform.SaveEnrolmentAsync("site-1", "https://127.0.0.1:9/api", enrolled, CancellationToken.None);
        await platform.RecordFailureAsync("connection refused", enrolled.AddMinutes(5), enrolled.AddDays(30), CancellationToken.None);

        _time.Advance(TimeSpan.FromHours(UnreachableHours) - TimeSpan.FromMinutes(1));
        await monitor.CheckPlatformAsync(CancellationToken.None);
        (await OpenAsync(AlertKinds.PlatformUnreachable)).Should().BeEmpty("failing for less than the configured hours is not yet an incident");

        _time.Advance(TimeSpan.FromMinutes(1));
        await platform.RecordFailureAsync("connection refused", _time.GetUtcNow(), _time.GetUtcNow().AddDays(30), CancellationToken.None);
        await monitor.CheckPlatformAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromHours(1));
        await monitor.CheckPlatformAsync(CancellationToken.None);

        var incident = (await OpenAsync(AlertKinds.PlatformUnreachable)).Should().ContainSingle().Subject;
        incident.Subject.Should().Be("platform");
        incident.Severity.Should().Be(AlertSeverities.Warning);
        incident.Detail.Should().Contain($"No report delivered since {enrolled:u}").And.Contain("2 failed attempt(s)").And.Contain("connection refused");
        incident.Events.Should().BeGreaterThanOrEqualTo(2, "a later round counts the same incident, it does not open another (the monitor's own loop may add rounds)");

        await platform.MarkDeliveredAsync(0, _time.GetUtcNow(), CancellationToken.None);
        await monitor.CheckPlatformAsync(CancellationToken.None);

        (await OpenAsync(AlertKinds.PlatformUnreachable)).Should().BeEmpty();
        (await AllAsync(AlertKinds.PlatformUnreachable)).Should().ContainSingle().Which.ResolvedDetail.Should().Be("Reports are delivered again.");
    }

    [Fact]
    public async Task A_certificate_within_the_configured_days_of_its_end_opens_one_warning_incident_that_turns_critical_once_expired()
    {
        var monitor = _app.Service<AlertMonitor>();
        var notAfter = new DateTimeOffset(_app.Service<TlsCertificate>().Certificate.NotAfter.ToUniversalTime());
        notAfter.Should().BeAfter(_time.GetUtcNow().AddDays(ExpiryDays), "the generated certificate is valid for longer than the warning period");

        await monitor.CheckCertificateAsync(CancellationToken.None);
        (await AllAsync(AlertKinds.CertificateExpiry)).Should().BeEmpty();

        _time.SetUtcNow(notAfter.AddDays(-5).AddHours(-1));
        await monitor.CheckCertificateAsync(CancellationToken.None);
        var warning = (await OpenAsync(AlertKinds.CertificateExpiry)).Should().ContainSingle().Subject;
        warning.Severity.Should().Be(AlertSeverities.Warning);
        warning.Title.Should().Be("The orchestrator's TLS certificate expires in 5 day(s)");
        warning.Detail.Should().Contain($"Valid until {notAfter:u}");

        _time.SetUtcNow(notAfter.AddMinutes(1));
        await monitor.CheckCertificateAsync(CancellationToken.None);
        var expired = (await OpenAsync(AlertKinds.CertificateExpiry)).Should().ContainSingle().Subject;
        expired.Id.Should().Be(warning.Id, "one incident per certificate, counted again, not a second one");
        expired.Events.Should().BeGreaterThanOrEqualTo(2);
        expired.Severity.Should().Be(AlertSeverities.Critical);
        expired.Title.Should().Be("The orchestrator's TLS certificate has expired");
    }

    private async Task<IReadOnlyList<AlertIncidentView>> AllAsync(string kind) =>
        [.. (await _app.Service<AlertEvents>().ListAsync(openOnly: false, 100, CancellationToken.None)).Where(i => i.Kind == kind)];

    private async Task<IReadOnlyList<AlertIncidentView>> OpenAsync(string kind) =>
        [.. (await AllAsync(kind)).Where(i => i.ResolvedAt is null)];
}
