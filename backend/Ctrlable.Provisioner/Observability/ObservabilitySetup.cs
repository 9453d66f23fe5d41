using System.Net;
using Ctrlable.Provisioner.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Ctrlable.Provisioner.Observability;

/// <summary>
/// Metrics (OpenTelemetry, served at <see cref="MetricsPath"/> in Prometheus text format) and the log output's shape
/// (SPEC §8e).
/// </summary>
public static class ObservabilitySetup
{
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// Series kept per metric; more go to one overflow series (<c>otel_metric_overflow="true"</c>). OpenTelemetry
    /// allocates every metric's points up front: its default of 2000 is 34 metrics × ~144 KB = 5 MB of the large object
    /// heap (backend/bench/README.md "Memory"). A site's routes × methods × statuses, or Proxmox routes × statuses,
    /// stay well under 500.
    /// </summary>
    public const int SeriesPerMetric = 500;

    /// <summary>
    /// Log levels unless appsettings.json or the environment says otherwise. In code, because appsettings.json is read
    /// from the content root (the working directory): started from anywhere else, every request logged at Information.
    /// </summary>
    internal static readonly Dictionary<string, string?> LogLevelDefaults = new()
    {
        ["Logging:LogLevel:Default"] = "Information",
        // Requests (Microsoft.AspNetCore.Hosting.Diagnostics), routing, auth: only what went wrong.
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        ["Logging:LogLevel:Polly"] = "Warning",
    };

    public static IHostApplicationBuilder AddObservability(this IHostApplicationBuilder builder)
    {
        // First source: every other one (appsettings.json, Logging__* and CTRLABLE_LOGGING__* variables) overrides it.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = LogLevelDefaults });

        builder.Services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section);
        builder.Services.TryAddSingleton<ProvisionerMetrics>();
        builder.Services.AddSingleton<IAuthorizationHandler, LoopbackMetricsReader>();
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("ctrlable-provisioner"))
            .WithMetrics(metrics => metrics
            .AddMeter(ProvisionerMetrics.MeterName)
            .AddView(_ => new MetricStreamConfiguration { CardinalityLimit = SeriesPerMetric })
            // http.server.request.duration by route template and status (no raw paths, so no ids in labels).
            .AddAspNetCoreInstrumentation()
            // Scrapes read current values: no cached answer.
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));

        // Logging:Console:FormatterName=json: one JSON object per line for journald, with each line's deploy/build ids.
        builder.Services.Configure<JsonConsoleFormatterOptions>(o => o.IncludeScopes = true);
        // The slim web builder (Program) names the simple format in code, after the settings: the settings choose again.
        builder.Services.AddOptions<ConsoleLoggerOptions>().PostConfigure<IConfiguration>((o, configuration) =>
        {
            if (configuration["Logging:Console:FormatterName"] is { Length: > 0 } formatter)
            {
                o.FormatterName = formatter;
            }
        });
        return builder;
    }

    /// <summary>/metrics: an admin (API token or session) and, with Metrics:AllowLoopback, a scraper on this host.</summary>
    public static WebApplication MapMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint(MetricsPath)
            .RequireRole(Role.Admin)
            .WithMetadata(new LoopbackReadableMetadata())
            .ExcludeFromDescription();
        return app;
    }
}

/// <summary>Marks an endpoint that <see cref="MetricsOptions.AllowLoopback"/> opens to loopback callers.</summary>
public sealed record LoopbackReadableMetadata;

/// <summary>
/// With Metrics:AllowLoopback, a caller on this host (127.0.0.0/8, ::1) passes every requirement of an endpoint
/// marked <see cref="LoopbackReadableMetadata"/>; anyone else needs what the endpoint's role asks.
/// </summary>
internal sealed class LoopbackMetricsReader(IOptionsMonitor<MetricsOptions> options) : IAuthorizationHandler
{
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        if (options.CurrentValue.AllowLoopback
            && context.Resource is HttpContext http
            && http.GetEndpoint()?.Metadata.GetMetadata<LoopbackReadableMetadata>() is not null
            && http.Connection.RemoteIpAddress is { } address
            && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address))
        {
            foreach (var requirement in context.PendingRequirements.ToList())
            {
                context.Succeed(requirement);
            }
        }

        return Task.CompletedTask;
    }
}
