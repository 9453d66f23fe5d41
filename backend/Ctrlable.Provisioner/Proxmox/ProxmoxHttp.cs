using System.Net;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Http;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Polly;

namespace Ctrlable.Provisioner.Proxmox;

/// <summary>The Proxmox API's HTTP plumbing: the pinned, authenticated, retried client and the one-off probe.</summary>
public static class ProxmoxHttp
{
    /// <summary>
    /// The Proxmox host (its settings, checked at start) and the client that talks to it. Which host is chosen at
    /// start, once the database is there (<see cref="ProxmoxConnections"/>).
    /// </summary>
    public static IServiceCollection AddProxmox(this IServiceCollection services)
    {
        services.AddConfigOptions<ProxmoxOptions>(ProxmoxOptions.Section);
        services.AddSingleton<ProxmoxConnections>();
        services.AddProxmoxHttpClient();
        services.AddExceptionHandler<NodeUnreachableHandler>();
        return services;
    }

    public static IServiceCollection AddProxmoxHttpClient(this IServiceCollection services)
    {
        services.AddSingleton<CertificatePin>();
        services.AddTransient<ProxmoxAuthHandler>();
        services.AddTransient<ProxmoxRequestMetrics>();
        // The Proxmox plumbing also runs without the app (tests): it brings the instruments it records into.
        services.AddMetrics();
        services.TryAddSingleton<Observability.ProvisionerMetrics>();
        services.AddSingleton<ProxmoxClient>();
        var client = services.AddHttpClient(ProxmoxClient.HttpClientName, http =>
            {
                // The resilience pipeline owns timeouts.
                http.Timeout = Timeout.InfiniteTimeSpan;
            })
            .ConfigurePrimaryHttpMessageHandler(sp => PinnedHandler(sp.GetRequiredService<CertificatePin>()))
            .AddHttpMessageHandler<ProxmoxAuthHandler>();
        client.WithRetries("proxmox", sp =>
            {
                var options = sp.GetRequiredService<IOptions<ProxmoxOptions>>().Value;
                return (TimeSpan.FromSeconds(options.TotalTimeoutSeconds), TimeSpan.FromSeconds(options.AttemptTimeoutSeconds));
            },
            NothingDone);
        // Inside the retries: each attempt is counted and timed.
        client.AddHttpMessageHandler<ProxmoxRequestMetrics>();
        services.AddSingleton<ProxmoxTasks>();
        return services;
    }

    /// <summary>
    /// A one-off client for credentials an admin is about to save: its own connections (a pooled connection
    /// validated against the old fingerprint must not vouch for the new one), one attempt, no retries, so a
    /// wrong URL, token or fingerprint is reported at once. Dispose it after use.
    /// </summary>
    public static ProxmoxProbe CreateProxmoxProbe(ProxmoxConnection candidate, ProxmoxOptions options)
    {
        var connections = new ProxmoxConnections(candidate);
        var pin = new CertificatePin(connections);
        var http = new HttpClient(new ProxmoxAuthHandler(connections) { InnerHandler = PinnedHandler(pin) })
        {
            Timeout = TimeSpan.FromSeconds(options.AttemptTimeoutSeconds),
        };
        return new ProxmoxProbe(new ProxmoxClient(new SingleClientFactory(http), connections, pin), http);
    }

    /// <summary>The shared rule (<see cref="HttpResilience.ShouldRetry"/>) with Proxmox's "nothing was done" answers.</summary>
    internal static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, HttpRequestMessage? request) =>
        HttpResilience.ShouldRetry(outcome, request, NothingDone);

    /// <summary>Proxmox's lock contention answers: nothing was done, so any method may be retried.</summary>
    private static bool NothingDone(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.InternalServerError && ProxmoxException.IsLockMessage(response.ReasonPhrase);

    private static SocketsHttpHandler PinnedHandler(CertificatePin pin) => new()
    {
        // Trust the node by its pinned fingerprint, never "any certificate".
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => pin.Validate(certificate) },
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };

    private sealed class ProxmoxAuthHandler(ProxmoxConnections connections) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = ProxmoxClient.Authorization(connections.Current);
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class SingleClientFactory(HttpClient client) : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => client;
    }
}

/// <summary>A <see cref="ProxmoxClient"/> over one-off connections to a candidate host; see <see cref="ProxmoxHttp.CreateProxmoxProbe"/>.</summary>
public sealed class ProxmoxProbe(ProxmoxClient client, HttpClient http) : IDisposable
{
    public ProxmoxClient Client { get; } = client;

    public void Dispose() => http.Dispose();
}
