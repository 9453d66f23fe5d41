using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

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

    public static IServiceCollection AddPlatform(this IServiceCollection services)
    {
        services.AddSingleton<PlatformRepository>();
        services.AddSingleton<PlatformReporter>();
        services.AddHostedService(sp => sp.GetRequiredService<PlatformReporter>());
        services.AddSingleton<PlatformService>();
        return services;
    }
}
