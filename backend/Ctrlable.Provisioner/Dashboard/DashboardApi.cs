using Ctrlable.Provisioner.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Dashboard;

public static class DashboardApi
{
    /// <summary>The dashboard: one shared Proxmox poll for every viewer, and the probes of the guests' apps.</summary>
    public static IServiceCollection AddDashboard(this IServiceCollection services)
    {
        services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section);
        services.AddSingleton<DashboardService>();
        services.AddAppHealthHttpClient();
        return services;
    }

    /// <summary>
    /// The dashboard's app probes: plain HTTP to the guests on the LAN, no redirect followed (a redirect is an answer),
    /// no proxy, no retries; each probe is bounded by <see cref="DashboardOptions.AppProbeTimeoutSeconds"/>.
    /// </summary>
    private static IServiceCollection AddAppHealthHttpClient(this IServiceCollection services)
    {
        services.AddSingleton<AppLocator>();
        services.AddSingleton<AppHealthMonitor>();
        services.AddHttpClient(AppHealthMonitor.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
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

    public static RouteGroupBuilder MapDashboard(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api").WithTags("Dashboard").RequireRole(Role.Viewer);

        group.MapGet("/dashboard", async Task<Results<Ok<DashboardSnapshot>, ProblemHttpResult>> (DashboardService dashboard, CancellationToken ct) =>
            {
                var (snapshot, error) = await dashboard.GetAsync(ct);
                return snapshot is not null ? TypedResults.Ok(snapshot) : Unavailable(error);
            })
            .WithName("GetDashboard")
            .WithSummary("Host health, storages, guests grouped by project, other guests and the active release's templates. Shared by all viewers; asOf tells its age, stale is set when Proxmox could not be reached.")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapGet("/nodes/{node}/metrics", async Task<Results<Ok<MetricSeries>, ProblemHttpResult>> (string node, string? timeframe, DashboardService dashboard, CancellationToken ct) =>
            {
                if (!TryTimeframe(timeframe, out var tf))
                {
                    return BadTimeframe(timeframe);
                }

                var (series, error) = await dashboard.GetNodeMetricsAsync(node, tf, ct);
                return series is not null ? TypedResults.Ok(series) : Unavailable(error);
            })
            .WithName("GetNodeMetrics")
            .WithSummary("CPU, memory, load, root disk and network history of a node (timeframe hour, day or week).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapGet("/guests/{vmid:int}/metrics", async Task<Results<Ok<MetricSeries>, ProblemHttpResult>> (int vmid, string? timeframe, DashboardService dashboard, CancellationToken ct) =>
            {
                if (!TryTimeframe(timeframe, out var tf))
                {
                    return BadTimeframe(timeframe);
                }

                var (snapshot, error) = await dashboard.GetAsync(ct);
                if (snapshot is null)
                {
                    return Unavailable(error);
                }

                var guest = snapshot.Projects.SelectMany(p => p.Guests).Concat(snapshot.OtherGuests).FirstOrDefault(g => g.Vmid == vmid);
                if (guest is null)
                {
                    return TypedResults.Problem(title: "Guest not found", detail: $"Proxmox reports no guest {vmid}.", statusCode: StatusCodes.Status404NotFound);
                }

                var (series, metricsError) = await dashboard.GetGuestMetricsAsync(guest, tf, ct);
                return series is not null ? TypedResults.Ok(series) : Unavailable(metricsError);
            })
            .WithName("GetGuestMetrics")
            .WithSummary("CPU, memory, disk and network history of a guest (timeframe hour, day or week).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return group;
    }

    private static bool TryTimeframe(string? text, out MetricTimeframe timeframe)
    {
        timeframe = MetricTimeframe.Hour;
        return string.IsNullOrEmpty(text) || (Enum.TryParse(text, ignoreCase: true, out timeframe) && Enum.IsDefined(timeframe) && !int.TryParse(text, out _));
    }

    private static ProblemHttpResult BadTimeframe(string? value) => TypedResults.Problem(
        title: "Unknown timeframe",
        detail: $"timeframe must be hour, day or week (got '{value}').",
        statusCode: StatusCodes.Status400BadRequest);

    private static ProblemHttpResult Unavailable(string? reason) => TypedResults.Problem(
        title: "Proxmox unavailable",
        detail: reason ?? "No data from Proxmox yet.",
        statusCode: StatusCodes.Status503ServiceUnavailable);
}
