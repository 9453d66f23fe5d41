using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.Provisioner.Tls;
using Microsoft.Extensions.Configuration;

namespace Ctrlable.Provisioner.Tests.Tls;

public sealed class TlsTests
{
    [Fact]
    public async Task A_certificate_is_generated_on_first_start_and_its_fingerprint_is_public()
    {
        using var app = new ProvisionerApp();
        using var client = app.CreateClient();

        var tls = await client.GetFromJsonAsync<JsonElement>("/api/tls");

        var pfx = Path.Combine(app.DataDirectory, "tls", "server.pfx");
        using var certificate = X509CertificateLoader.LoadPkcs12FromFile(pfx, null);
        var expected = string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
        tls.GetProperty("sha256Fingerprint").GetString().Should().Be(expected).And.MatchRegex("^([0-9A-F]{2}:){31}[0-9A-F]{2}$");
        tls.GetProperty("source").GetString().Should().Be("generated");
        tls.GetProperty("names").EnumerateArray().Select(n => n.GetString()).Should().Contain(["localhost", "127.0.0.1"]);
        tls.GetProperty("notAfter").GetDateTimeOffset().Should().BeAfter(DateTimeOffset.UtcNow.AddYears(9));
        certificate.GetECDsaPublicKey().Should().NotBeNull();
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(pfx).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.GetUnixFileMode(Path.GetDirectoryName(pfx)!).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public async Task The_generated_certificate_survives_a_restart()
    {
        var data = TempDirectory.Create("data");
        try
        {
            string first;
            using (var app = new ProvisionerApp(dataDirectory: data))
            using (var client = app.CreateClient())
            {
                first = (await client.GetFromJsonAsync<JsonElement>("/api/tls")).GetProperty("sha256Fingerprint").GetString()!;
            }

            using var restarted = new ProvisionerApp(dataDirectory: data);
            using var again = restarted.CreateClient();
            (await again.GetFromJsonAsync<JsonElement>("/api/tls")).GetProperty("sha256Fingerprint").GetString().Should().Be(first);
        }
        finally
        {
            TempDirectory.TryDelete(data);
        }
    }

    [Fact]
    public async Task A_configured_pem_certificate_is_served_instead()
    {
        var dir = TempDirectory.Create("cert");
        try
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=orchestrator.example", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
            await File.WriteAllTextAsync(Path.Combine(dir, "cert.pem"), certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());
            using var app = new ProvisionerApp(settings: new Dictionary<string, string?>
            {
                ["Tls:CertificatePath"] = Path.Combine(dir, "cert.pem"),
                ["Tls:CertificateKeyPath"] = Path.Combine(dir, "key.pem"),
                ["Urls"] = "https://0.0.0.0:5443",
            });
            using var client = app.CreateClient();

            var tls = await client.GetFromJsonAsync<JsonElement>("/api/tls");

            tls.GetProperty("source").GetString().Should().Be("configured");
            tls.GetProperty("subject").GetString().Should().Be("CN=orchestrator.example");
            tls.GetProperty("sha256Fingerprint").GetString()!.Replace(":", "", StringComparison.Ordinal).Should().Be(Convert.ToHexString(SHA256.HashData(certificate.RawData)));
            tls.GetProperty("httpsUrls").EnumerateArray().Select(u => u.GetString()).Should().Equal("https://0.0.0.0:5443");
            File.Exists(Path.Combine(app.DataDirectory, "tls", "server.pfx")).Should().BeFalse();
        }
        finally
        {
            TempDirectory.TryDelete(dir);
        }
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", false, 0)]
    [InlineData("http://localhost:5080", false, 0)]
    [InlineData("http://[::1]:5080", false, 0)]
    [InlineData("https://0.0.0.0:8443", false, 0)]
    [InlineData("http://0.0.0.0:5080", false, 1)]
    [InlineData("http://*:80;https://*:443", false, 1)]
    [InlineData("http://192.168.1.20:5080", false, 1)]
    [InlineData("http://0.0.0.0:5080", true, 0)]
    public void Plain_http_is_allowed_only_on_loopback_unless_configured(string urls, bool allowInsecure, int problems)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["urls"] = urls }).Build();

        var found = ListenUrls.Problems(configuration, new TlsOptions { AllowInsecureHttp = allowInsecure }).ToList();

        found.Should().HaveCount(problems);
        found.Where(p => !p.Contains("Tls:AllowInsecureHttp=true", StringComparison.Ordinal)).Should().BeEmpty("each problem says how to fix it");
    }

    [Fact]
    public void Http_ports_without_urls_count_as_every_address()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["http_ports"] = "8080" }).Build();

        ListenUrls.Problems(configuration, new TlsOptions()).Should().ContainSingle().Which.Should().StartWith("http://*:8080");
    }
}
