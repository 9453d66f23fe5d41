using Ctrlable.Provisioner.Config;

namespace Ctrlable.Provisioner.Tests.Config;

public sealed class ConfigValidatorTests
{
    private const string Fingerprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    private readonly ConfigValidator _validator = new();

    [Fact]
    public void No_proxmox_configured_is_valid_and_means_simulated()
    {
        var options = new ProxmoxOptions();

        _validator.Validate(null, options).Succeeded.Should().BeTrue();
        options.IsConfigured.Should().BeFalse();
    }

    [Fact]
    public void A_configured_proxmox_needs_https_token_and_fingerprint_with_one_line_each()
    {
        // No TokenSecret is fine here: it is normally stored encrypted (checked once the database is open).
        var result = _validator.Validate(null, new ProxmoxOptions { Url = "http://pve:8006", TokenId = "root", CertificateFingerprint = "nope" });

        result.Failed.Should().BeTrue();
        result.Failures.Should().HaveCount(3);
        result.Failures.Should().Contain(f => f.StartsWith("Proxmox:Url", StringComparison.Ordinal))
            .And.Contain(f => f.StartsWith("Proxmox:TokenId", StringComparison.Ordinal))
            .And.Contain(f => f.StartsWith("Proxmox:CertificateFingerprint", StringComparison.Ordinal));
    }

    [Fact]
    public void A_complete_proxmox_configuration_is_valid()
    {
        var result = _validator.Validate(null, new ProxmoxOptions
        {
            Url = "https://192.168.1.10:8006",
            TokenId = "ctrlable@pve!provisioner",
            TokenSecret = "5f1e2d3c-0000-4000-8000-000000000000",
            CertificateFingerprint = Fingerprint,
        });

        result.Succeeded.Should().BeTrue();
    }

    [Fact]
    public void The_secret_is_never_echoed_in_a_failure()
    {
        var result = _validator.Validate(null, new ProxmoxOptions { Url = "ftp://x", TokenId = "bad", TokenSecret = "s3cr3t-value", CertificateFingerprint = "" });

        result.Failures.Should().NotContain(f => f.Contains("s3cr3t-value", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s", true)]
    [InlineData("uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s", true)]
    [InlineData("MD5:aa:bb", false)]
    public void Host_trigger_fingerprint_is_checked(string fingerprint, bool valid)
    {
        var result = _validator.Validate(null, new HostTriggerOptions { Host = "192.168.1.10", KeyPath = "/data/build_ed25519", HostKeyFingerprint = fingerprint });

        result.Succeeded.Should().Be(valid);
    }

    [Fact]
    public void Host_trigger_port_out_of_range_is_one_line()
    {
        var result = _validator.Validate(null, new HostTriggerOptions
        {
            Host = "pve",
            Port = 70000,
            KeyPath = "/k",
            HostKeyFingerprint = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        });

        result.Failures.Should().ContainSingle().Which.Should().Contain("HostTrigger:Port").And.Contain("70000");
    }

    [Fact]
    public void Platform_must_be_https_when_set()
    {
        _validator.Validate(null, new PlatformOptions { Url = "http://platform" }).Failed.Should().BeTrue();
        _validator.Validate(null, new PlatformOptions()).Succeeded.Should().BeTrue();
        _validator.Validate(null, new PlatformOptions { Url = "https://platform.ctrlable.example/api" }).Succeeded.Should().BeTrue();
        // Plain HTTP only on loopback (the site token would cross the network in clear).
        _validator.Validate(null, new PlatformOptions { Url = "http://127.0.0.1:8080/api" }).Succeeded.Should().BeTrue();
        _validator.Validate(null, new PlatformOptions { Url = "http://10.0.0.5/api" }).Failed.Should().BeTrue();
    }

    [Fact]
    public void Platform_timings_must_be_positive_and_the_retry_cap_not_below_its_base()
    {
        var result = _validator.Validate(null, new PlatformOptions { Heartbeat = TimeSpan.Zero, RetryBaseDelay = TimeSpan.FromMinutes(5), RetryMaxDelay = TimeSpan.FromMinutes(1) });

        result.Failed.Should().BeTrue();
        result.Failures.Should().Contain(f => f.Contains("Platform:Heartbeat", StringComparison.Ordinal))
            .And.Contain(f => f.Contains("Platform:RetryMaxDelay", StringComparison.Ordinal));
    }
}
