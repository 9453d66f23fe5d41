using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// A stand-in for GitHub's release API on 127.0.0.1 over HTTPS, with a certificate from a CA of its own (the wrapper
/// verifies it with <see cref="CaBundlePath"/> as GITHUB_API_CA_BUNDLE, never with --insecure). It answers
/// <c>GET /repos/home-assistant/operating-system/releases/tags/&lt;version&gt;</c> the way GitHub does: the release
/// with its assets, each with a <c>digest</c> ("sha256:…"); an unknown release is 404.
/// </summary>
internal sealed class GitHubApiFixture : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<IResult>> _releases = new(StringComparer.Ordinal);

    private GitHubApiFixture(WebApplication app, string caBundlePath)
    {
        _app = app;
        CaBundlePath = caBundlePath;
    }

    /// <summary>The API's base URL (GITHUB_API_URL).</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The PEM of the CA that issued the server's certificate (GITHUB_API_CA_BUNDLE).</summary>
    public string CaBundlePath { get; }

    /// <summary>Every request: path, Accept, X-GitHub-Api-Version and User-Agent.</summary>
    public ConcurrentQueue<(string Path, string Accept, string ApiVersion, string UserAgent)> Requests { get; } = new();

    public static async Task<GitHubApiFixture> StartAsync(string directory)
    {
        Directory.CreateDirectory(directory);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=GitHub API fixture CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var caBundle = Path.Combine(directory, "github-ca.pem");
        await File.WriteAllTextAsync(caBundle, ca.ExportCertificatePem() + "\n");

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=api.github.test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), RandomNumberGenerator.GetBytes(8));
        using var withKey = issued.CopyWithPrivateKey(key);
        var certificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.UseHttps(certificate)));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fixture = new GitHubApiFixture(app, caBundle);
        app.MapGet("/repos/home-assistant/operating-system/releases/tags/{version}", (string version, HttpRequest http) =>
        {
            fixture.Requests.Enqueue((http.Path.Value ?? "", http.Headers.Accept.ToString(), http.Headers["X-GitHub-Api-Version"].ToString(), http.Headers.UserAgent.ToString()));
            return fixture._releases.TryGetValue(version, out var answer)
                ? answer()
                : Results.Json(new { message = "Not Found", documentation_url = "https://docs.github.com/rest/releases/releases#get-a-release-by-tag-name", status = "404" }, statusCode: 404);
        });
        await app.StartAsync();
        fixture.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/'));
        return fixture;
    }

    /// <summary>Release <paramref name="version"/> with its OVA image's digest (null: the asset has none, as before June 2025).</summary>
    public void ServeRelease(string version, string? sha256, bool withOva = true)
    {
        _releases[version] = () =>
        {
            var assets = new JsonArray
            {
                Asset($"haos_generic-x86-64-{version}.img.xz", new string('1', 64)),
                Asset($"haos_rpi5-64-{version}.img.xz", new string('2', 64)),
            };
            if (withOva)
            {
                assets.Add(Asset($"haos_ova-{version}.qcow2.xz", sha256));
            }

            return Results.Text(new JsonObject
            {
                ["url"] = $"https://api.github.com/repos/home-assistant/operating-system/releases/{version.Replace(".", "", StringComparison.Ordinal)}",
                ["tag_name"] = version,
                ["name"] = version,
                ["draft"] = false,
                ["prerelease"] = false,
                ["assets"] = assets,
            }.ToJsonString(), "application/json; charset=utf-8");
        };

        JsonObject Asset(string name, string? digest) => new()
        {
            ["name"] = name,
            ["content_type"] = "application/x-xz",
            ["state"] = "uploaded",
            ["size"] = 123456789,
            ["digest"] = digest is null ? null : "sha256:" + digest,
            ["browser_download_url"] = $"https://github.com/home-assistant/operating-system/releases/download/{version}/{name}",
        };
    }

    /// <summary>Release <paramref name="version"/> answers with <paramref name="status"/> and no release.</summary>
    public void ServeStatus(string version, int status) =>
        _releases[version] = () => Results.Json(new { message = "Server Error" }, statusCode: status);

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
