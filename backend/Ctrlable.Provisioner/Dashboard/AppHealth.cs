using System.Collections.Concurrent;
using System.ComponentModel;
using System.Net.Sockets;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Dashboard;

public enum AppState { Up, Down }

/// <summary>Whether a running guest's app answers, and since when it has been so.</summary>
public sealed record AppHealth(
    AppState State,
    [property: Description("When the app was first seen in this state (since the orchestrator's start at the earliest).")] DateTimeOffset Since,
    DateTimeOffset CheckedAt,
    [property: Description("What the probe saw: 'HTTP 200', 'port 9443 open', 'connection refused', 'no answer within 2 s'.")] string Detail,
    [property: Description("What was probed: the app's URL (HTTP) or host:port (TCP connect).")] string Target);

/// <summary>How one type's app is probed: an HTTP request (any answer below 500 is up) or a TCP connect.</summary>
public enum AppProbeKind { Http, Tcp }

public sealed record AppEndpoint(string Name, int Port, AppProbeKind Probe, string Scheme);

/// <summary>Where each type's app listens on its guest (the community-scripts installs of the pinned tag; SPEC §7f).</summary>
public static class AppEndpoints
{
    public static readonly IReadOnlyDictionary<string, AppEndpoint> Defaults = new Dictionary<string, AppEndpoint>(StringComparer.Ordinal)
    {
        // Home Assistant's port is the one the deploy located (8123, or 80 from Core 2026.8): its app_url is probed.
        [TemplateTypes.CtrlablePro] = new("Home Assistant", 8123, AppProbeKind.Http, "http"),
        [TemplateTypes.ZwaveJs] = new("Z-Wave JS UI", 8091, AppProbeKind.Http, "http"),
        [TemplateTypes.Zigbee2Mqtt] = new("Zigbee2MQTT", 8080, AppProbeKind.Http, "http"),
        // Portainer serves HTTPS with its own self-signed certificate: a TCP connect says it listens, without trusting it.
        [TemplateTypes.DockerPortainer] = new("Portainer", 9443, AppProbeKind.Tcp, "https"),
        [TemplateTypes.Frigate] = new("Frigate", 5000, AppProbeKind.Http, "http"),
        [TemplateTypes.FreePbx] = new("FreePBX", 80, AppProbeKind.Http, "http"),
    };
}

/// <summary>
/// Probes the apps of running, active instances for the dashboard poll (one probe per instance per poll, all in
/// parallel, each bounded by <see cref="DashboardOptions.AppProbeTimeoutSeconds"/>) and remembers since when each is up
/// or down. In memory: after a restart, "since" counts from the first probe.
/// </summary>
public sealed class AppHealthMonitor(IHttpClientFactory httpClients, AppLocator locator, IOptions<DashboardOptions> options, TimeProvider time, ILogger<AppHealthMonitor> logger)
{
    public const string HttpClientName = "app-health";

    private readonly ConcurrentDictionary<long, AppHealth> _states = new();

    private TimeSpan Timeout => TimeSpan.FromSeconds(options.Value.AppProbeTimeoutSeconds);

    /// <summary>
    /// Probes every instance given (running guest, active instance) and returns their health; instances not given are
    /// forgotten (stopped, deleted or still deploying: their next probe starts a new "since").
    /// </summary>
    public async Task<IReadOnlyDictionary<long, AppHealth>> ProbeAsync(IReadOnlyList<InstanceRow> instances, CancellationToken ct)
    {
        var targets = instances.Select(i => (Instance: i, Target: locator.Locate(i))).Where(t => t.Target is not null).ToList();
        var results = await Task.WhenAll(targets.Select(async t => (t.Instance, Result: await ProbeAsync(t.Target!, ct))));
        var now = time.GetUtcNow();
        var health = new Dictionary<long, AppHealth>();
        foreach (var (instance, (target, up, detail)) in results)
        {
            health[instance.Id] = _states.AddOrUpdate(instance.Id,
                _ => new AppHealth(up ? AppState.Up : AppState.Down, now, now, detail, target),
                (_, previous) =>
                {
                    var state = up ? AppState.Up : AppState.Down;
                    if (previous.State != state)
                    {
                        logger.LogInformation("App of instance {Instance} ({Hostname}) is {State}: {Detail}", instance.Id, instance.Hostname, state, detail);
                        return new AppHealth(state, now, now, detail, target);
                    }

                    return previous with { CheckedAt = now, Detail = detail, Target = target };
                });
        }

        foreach (var gone in _states.Keys.Except(health.Keys))
        {
            _states.TryRemove(gone, out _);
        }

        return health;
    }

    /// <summary>One probe of one instance's app, outside the dashboard's poll (its "since" is not touched); null: no app to probe.</summary>
    public async Task<(bool Up, string Detail)?> CheckAsync(InstanceRow instance, CancellationToken ct) =>
        locator.Locate(instance) is { } target && await ProbeAsync(target, ct) is var (_, up, detail) ? (up, detail) : null;

    private async Task<(string Target, bool Up, string Detail)> ProbeAsync(AppTarget target, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(Timeout);
        var label = target.Kind == AppProbeKind.Http ? target.Url.ToString() : $"{target.Url.Host}:{target.Url.Port}";
        try
        {
            if (target.Kind == AppProbeKind.Tcp)
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(target.Url.IdnHost.Trim('[', ']'), target.Url.Port, limit.Token);
                return (label, true, $"port {target.Url.Port} open");
            }

            using var response = await httpClients.CreateClient(HttpClientName).GetAsync(target.Url, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            // Any answer of the app itself counts (a sign-in page, a redirect); 5xx is the app failing (or a proxy before it).
            return (label, (int)response.StatusCode < 500, $"HTTP {(int)response.StatusCode}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (label, false, $"no answer within {Timeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or IOException)
        {
            return (label, false, Reason(ex));
        }
    }

    private static string Reason(Exception ex) =>
        (ex as SocketException ?? ex.InnerException as SocketException)?.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
            SocketError.TimedOut => "connection timed out",
            { } code => $"connection failed ({code})",
            null => ex is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded } ? "connection closed without an answer" : "connection failed",
        };
}

/// <summary>Where an app answers: its URL, and how the health probe reaches it.</summary>
public sealed record AppTarget(AppProbeKind Kind, Uri Url);

/// <summary>Where each instance's app is (the health probe and the credentials hand-over sheet agree on it).</summary>
public sealed class AppLocator(IOptions<DashboardOptions> options)
{
    /// <summary>The app's URL and probe; null when the instance has no address yet or its type has no known app.</summary>
    public AppTarget? Locate(InstanceRow instance)
    {
        if (!AppEndpoints.Defaults.TryGetValue(instance.Type, out var endpoint))
        {
            return null;
        }

        if (instance.Type == TemplateTypes.CtrlablePro && instance.AppUrl is { } located && Uri.TryCreate(located, UriKind.Absolute, out var url))
        {
            return new AppTarget(AppProbeKind.Http, url);
        }

        if (instance.Ip is not { Length: > 0 } ip)
        {
            return null;
        }

        var port = options.Value.AppPorts.TryGetValue(instance.Type, out var configured) ? configured : endpoint.Port;
        // UriBuilder brackets an IPv6 address, and the URL leaves out the scheme's default port.
        return new AppTarget(endpoint.Probe, new UriBuilder(endpoint.Scheme, ip, port).Uri);
    }
}
