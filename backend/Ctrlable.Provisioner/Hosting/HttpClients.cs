using System.Net;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.Proxmox;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace Ctrlable.Provisioner.Hosting;

/// <summary>Every outbound HTTP client and its resilience, in one place.</summary>
public static class HttpClients
{
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
        client.AddResilienceHandler("proxmox", (pipeline, context) =>
            {
                var options = context.ServiceProvider.GetRequiredService<IOptions<ProxmoxOptions>>().Value;
                pipeline.AddTimeout(TimeSpan.FromSeconds(options.TotalTimeoutSeconds));
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 4,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = TimeSpan.FromMilliseconds(300),
                    ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context.GetRequestMessage())),
                });
                pipeline.AddTimeout(TimeSpan.FromSeconds(options.AttemptTimeoutSeconds));
            });
        // Inside the retries: each attempt is counted and timed.
        client.AddHttpMessageHandler<ProxmoxRequestMetrics>();
        services.AddSingleton<ProxmoxTasks>();
        return services;
    }

    /// <summary>
    /// Home Assistant on the sites' guests: plain HTTP on the LAN, never following a redirect (a POST redirected from
    /// 8123 to 80 would arrive as a GET). No retries here: the deploy flow polls and resumes each step itself, and
    /// every attempt is bounded. The upload client allows a long transfer for a large base backup.
    /// </summary>
    public static IServiceCollection AddHomeAssistantHttpClients(this IServiceCollection services)
    {
        services.AddSingleton<HomeAssistantClient>();
        foreach (var (name, upload) in new[] { (HomeAssistantClient.HttpClientName, false), (HomeAssistantClient.UploadClientName, true) })
        {
            services.AddHttpClient(name, http => http.Timeout = Timeout.InfiniteTimeSpan)
                .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    // Addresses change when a guest restarts; pooled connections to a restarted Core are dead anyway.
                    PooledConnectionLifetime = TimeSpan.FromMinutes(1),
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    UseProxy = false,
                })
                .AddResilienceHandler(name, (pipeline, context) =>
                {
                    var options = context.ServiceProvider.GetRequiredService<IOptions<HomeAssistantOptions>>().Value;
                    pipeline.AddTimeout(TimeSpan.FromSeconds(upload ? options.UploadTimeoutSeconds : options.RequestTimeoutSeconds));
                });
        }

        return services;
    }

    /// <summary>
    /// The dashboard's app probes: plain HTTP to the guests on the LAN, no redirect followed (a redirect is an answer),
    /// no proxy, no retries; each probe is bounded by <see cref="Dashboard.DashboardOptions.AppProbeTimeoutSeconds"/>.
    /// </summary>
    public static IServiceCollection AddAppHealthHttpClient(this IServiceCollection services)
    {
        services.AddSingleton<Dashboard.AppLocator>();
        services.AddSingleton<Dashboard.AppHealthMonitor>();
        services.AddHttpClient(Dashboard.AppHealthMonitor.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                UseProxy = false,
                // A guest that restarted has new sockets; a pooled connection to its old app is dead.
                PooledConnectionLifetime = TimeSpan.FromSeconds(30),
            });
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

    private static SocketsHttpHandler PinnedHandler(CertificatePin pin) => new()
    {
        // Trust the node by its pinned fingerprint, never "any certificate".
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => pin.Validate(certificate) },
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>
    /// The central platform's site API. One attempt per call, bounded by <see cref="PlatformOptions.AttemptTimeout"/>:
    /// the reporter owns retries (exponential back-off with jitter, persisted across restarts), so that thousands of
    /// sites coming back at once do not multiply their attempts, and a one-time enrolment code is never sent twice.
    /// </summary>
    public static IServiceCollection AddPlatformHttpClient(this IServiceCollection services)
    {
        services.AddSingleton<PlatformClient>();
        services.AddHttpClient(PlatformClient.HttpClientName, (sp, http) =>
            {
                var options = sp.GetRequiredService<IOptions<PlatformOptions>>().Value;
                if (options.IsConfigured)
                {
                    // Trailing slash: the contract's paths (v1/...) are relative to the configured base.
                    http.BaseAddress = new Uri(options.Url.TrimEnd('/') + "/");
                }

                http.Timeout = Timeout.InfiniteTimeSpan;
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = TimeSpan.FromSeconds(10),
            })
            .AddResilienceHandler("platform", (pipeline, context) =>
                pipeline.AddTimeout(context.ServiceProvider.GetRequiredService<IOptions<PlatformOptions>>().Value.AttemptTimeout));
        return services;
    }

    /// <summary>
    /// GETs are retried on transport errors, timeouts and 5xx. Any method is retried on Proxmox's lock
    /// contention answers, which mean nothing was done. A POST that failed otherwise (a clone whose answer
    /// was lost may have cloned) is never retried here; the deploy pipeline reconciles instead.
    /// </summary>
    internal static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, HttpRequestMessage? request)
    {
        var safe = request?.Method == HttpMethod.Get;
        if (outcome.Exception is not null)
        {
            // A connection closed while it was being opened can surface as a bare SocketException.
            return safe && outcome.Exception is HttpRequestException { InnerException: not System.Security.Authentication.AuthenticationException }
                or System.Net.Sockets.SocketException or TimeoutException or Polly.Timeout.TimeoutRejectedException;
        }

        var response = outcome.Result!;
        if (response.StatusCode == HttpStatusCode.InternalServerError && ProxmoxException.IsLockMessage(response.ReasonPhrase))
        {
            return true;
        }

        return safe && (int)response.StatusCode >= 500 && response.StatusCode != HttpStatusCode.NotImplemented;
    }

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

/// <summary>A <see cref="ProxmoxClient"/> over one-off connections to a candidate host; see <see cref="HttpClients.CreateProxmoxProbe"/>.</summary>
public sealed class ProxmoxProbe(ProxmoxClient client, HttpClient http) : IDisposable
{
    public ProxmoxClient Client { get; } = client;

    public void Dispose() => http.Dispose();
}
