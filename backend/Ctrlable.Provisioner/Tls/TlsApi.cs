using System.ComponentModel;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Ctrlable.Provisioner.Config;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Ctrlable.Provisioner.Tls;

public sealed record TlsInfo(
    [property: Description("SHA-256 of the certificate, colon-separated upper-case hex; pin this.")] string Sha256Fingerprint,
    string Subject,
    [property: Description("Host names and addresses the certificate names.")] IReadOnlyList<string> Names,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    CertificateSource Source,
    [property: Description("The https:// URLs the orchestrator listens on with this certificate (empty: HTTP only).")] IReadOnlyList<string> HttpsUrls);

public static class TlsApi
{
    public static IEndpointRouteBuilder MapTls(this IEndpointRouteBuilder routes)
    {
        // Public: any client sees the certificate during the handshake anyway; the host wrapper reads it to pin it.
        routes.MapGet("/api/tls", Ok<TlsInfo> (TlsCertificate tls, IConfiguration configuration) =>
            {
                var certificate = tls.Certificate;
                return TypedResults.Ok(new TlsInfo(
                    tls.Fingerprint,
                    certificate.Subject,
                    Names(certificate),
                    new DateTimeOffset(certificate.NotBefore.ToUniversalTime()),
                    new DateTimeOffset(certificate.NotAfter.ToUniversalTime()),
                    tls.Source,
                    [.. ListenUrls.From(configuration).Where(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase))]));
            })
            .AllowAnonymous()
            .WithTags("Settings")
            .WithName("GetTlsCertificate")
            .WithSummary("The orchestrator's TLS certificate and its SHA-256 fingerprint (templates and the host wrapper pin it).");
        return routes;
    }

    private static List<string> Names(X509Certificate2 certificate) =>
        [.. certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>()
            .SelectMany(e => e.EnumerateDnsNames().Concat(e.EnumerateIPAddresses().Select(a => a.ToString())))];

    /// <summary>Kestrel serves <see cref="TlsCertificate"/> on every https:// URL.</summary>
    public static IServiceCollection AddTls(this IServiceCollection services)
    {
        services.AddConfigOptions<TlsOptions>(TlsOptions.Section);
        services.AddSingleton<TlsCertificate>();
        services.AddOptions<KestrelServerOptions>().Configure<TlsCertificate>((kestrel, tls) =>
            kestrel.ConfigureHttpsDefaults(https => https.ServerCertificate = tls.Certificate));
        return services;
    }
}

/// <summary>Where the orchestrator listens, and whether plain HTTP would leave the machine.</summary>
public static class ListenUrls
{
    /// <summary>The configured listen URLs: <c>Urls</c> (CTRLABLE_URLS, --urls) and <c>Kestrel:Endpoints:*:Url</c>.</summary>
    public static IReadOnlyList<string> From(IConfiguration configuration)
    {
        var urls = (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        urls.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren()
            .Select(e => e["Url"]).OfType<string>().Where(u => u.Length > 0));
        if (urls.Count == 0)
        {
            urls.AddRange((configuration["http_ports"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(port => $"http://*:{port}"));
        }

        return urls;
    }

    /// <summary>One line per http:// URL that is not loopback, unless <see cref="TlsOptions.AllowInsecureHttp"/>.</summary>
    public static IEnumerable<string> Problems(IConfiguration configuration, TlsOptions tls)
    {
        if (tls.AllowInsecureHttp)
        {
            yield break;
        }

        foreach (var url in From(configuration))
        {
            if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !IsLoopback(url))
            {
                yield return $"{url} serves plain HTTP beyond this machine: use https://, a loopback address (http://127.0.0.1:PORT), or set Tls:AllowInsecureHttp=true.";
            }
        }
    }

    private static bool IsLoopback(string url)
    {
        // Kestrel's wildcards (*, +) are not valid URI hosts; they mean every address.
        var rest = url["http://".Length..];
        var host = rest.StartsWith('[') ? rest[1..Math.Max(1, rest.IndexOf(']', StringComparison.Ordinal))] : rest.Split(':', '/')[0];
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }
}
