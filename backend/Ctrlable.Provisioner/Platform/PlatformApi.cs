using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Observability;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Platform;

public static class PlatformApi
{
    public static RouteGroupBuilder MapPlatform(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/platform").WithTags("Platform");

        group.MapGet("/status", async Task<Ok<PlatformStatus>> (PlatformService platform, CancellationToken ct) =>
                TypedResults.Ok(await platform.GetStatusAsync(ct)))
            .RequireRole(Role.Viewer)
            .WithName("GetPlatformStatus")
            .WithSummary("Whether this site reports to the central platform: enrolment, last delivered report, changes waiting, last error.");

        group.MapPost("/enrolment", (EnrolRequest request, PlatformService platform, CancellationToken ct) => EnrolAsync(request, replace: false, platform, ct))
            .WithValidation<EnrolRequest>()
            .RequireRole(Role.Admin)
            .WithName("EnrolPlatform")
            .WithSummary("Enrol this site with the platform using a one-time code; the site token is kept encrypted. 409 when already enrolled.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status502BadGateway);

        group.MapPut("/enrolment", (EnrolRequest request, PlatformService platform, CancellationToken ct) => EnrolAsync(request, replace: true, platform, ct))
            .WithValidation<EnrolRequest>()
            .RequireRole(Role.Admin)
            .WithName("ReenrolPlatform")
            .WithSummary("Enrol again with a new one-time code (e.g. after the platform rejected the site token), replacing the current enrolment.")
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status502BadGateway);

        group.MapDelete("/enrolment", async Task<Ok<PlatformStatus>> (PlatformService platform, CancellationToken ct) =>
            {
                await platform.DisconnectAsync(ct);
                return TypedResults.Ok(await platform.GetStatusAsync(ct));
            })
            .RequireRole(Role.Admin)
            .WithName("DisconnectPlatform")
            .WithSummary("Disconnect: tell the platform the site leaves (once, best effort), then forget the site id and token here and stop reporting (changes waiting are dropped); lastError says when the platform could not be told.");

        return group;
    }

    private static async Task<Results<Ok<PlatformStatus>, ProblemHttpResult>> EnrolAsync(EnrolRequest request, bool replace, PlatformService platform, CancellationToken ct) =>
        await platform.EnrolAsync(request.Code!, replace, ct) is { } refusal
            ? refusal.ToProblem()
            : TypedResults.Ok(await platform.GetStatusAsync(ct));

    /// <summary>Platform report-up: its settings (checked at start), enrolment, the outbox sender, the platform's HTTP client.</summary>
    public static IServiceCollection AddPlatform(this IServiceCollection services)
    {
        services.AddConfigOptions<PlatformOptions>(PlatformOptions.Section);
        services.AddSingleton<PlatformRepository>();
        services.AddSingleton<IOutboxDepth>(sp => sp.GetRequiredService<PlatformRepository>());
        services.AddSingleton<PlatformReporter>();
        services.AddHostedService(sp => sp.GetRequiredService<PlatformReporter>());
        services.AddSingleton<PlatformService>();
        services.AddPlatformHttpClient();
        return services;
    }

    /// <summary>
    /// The central platform's site API. One attempt per call, bounded by <see cref="PlatformOptions.AttemptTimeout"/>:
    /// the reporter owns retries (exponential back-off with jitter, persisted across restarts), so that thousands of
    /// sites coming back at once do not multiply their attempts, and a one-time enrolment code is never sent twice.
    /// </summary>
    private static IServiceCollection AddPlatformHttpClient(this IServiceCollection services)
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
            .WithAttemptTimeout("platform", sp => sp.GetRequiredService<IOptions<PlatformOptions>>().Value.AttemptTimeout);
        return services;
    }
}
