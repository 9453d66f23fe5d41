using System.ComponentModel;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>What a project upgrade started, and which instances it left as they are (with why).</summary>
public sealed record ProjectUpgradeDto(long ProjectId, IReadOnlyList<InstanceDto> Started, IReadOnlyList<UpgradeSkipped> Skipped);

/// <summary>Upgrades of deployed instances to the active release (SPEC §7g), and the guests' side of it.</summary>
public static class UpgradeApi
{
    private const int MaxMessageLength = 2000;
    private const int MaxVersions = 32;

    public static IServiceCollection AddUpgrades(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<UpgradeOptions>, UpgradeOptionsValidator>();
        services.AddOptions<UpgradeOptions>().BindConfiguration(UpgradeOptions.Section).ValidateOnStart();
        services.AddSingleton<UpgradeRepository>();
        services.AddSingleton<UpgradeOffers>();
        services.AddSingleton<IUpgradeOffers>(sp => sp.GetRequiredService<UpgradeOffers>());
        services.AddSingleton<HomeAssistantUpgrade>();
        services.AddSingleton<GuestUpgrade>();
        services.AddSingleton<UpgradeHealth>();
        services.AddSingleton<UpgradePipeline>();
        services.AddSingleton<IInstanceStepHandler>(sp => sp.GetRequiredService<UpgradePipeline>());
        services.AddSingleton<UpgradeService>();
        services.AddSingleton<SnapshotSweep>();
        services.AddHostedService(sp => sp.GetRequiredService<SnapshotSweep>());
        return services;
    }

    public static IEndpointRouteBuilder MapUpgrades(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/instances/{id:long}/upgrade", UpgradeInstanceAsync)
            .WithTags("Instances").RequireRole(Role.Operator).WithName("UpgradeInstance")
            .WithSummary("Upgrade an active instance to the active release: a Proxmox snapshot first, then the app's own update to the release's versions, a health check, and the new release recorded; on a failure the guest is rolled back to the snapshot and the instance is active again on its old release with the reason. Progress: the project's events.")
            .WithDescription("409 with code already-current, busy, not-active, not-running, not-ours, no-template, no-update-routine, guest-cannot-upgrade or no-target-version; 502 proxmox-unavailable.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status502BadGateway);

        routes.MapPost("/api/projects/{id:long}/upgrade", UpgradeProjectAsync)
            .WithTags("Projects").RequireRole(Role.Operator).WithName("UpgradeProject")
            .WithSummary("Upgrade every instance of the project that can be upgraded to the active release (each as POST /api/instances/{id}/upgrade); the others are listed in 'skipped' with the reason. 409 already-current when all run the active release, nothing-upgradable when none can.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        // The guest's side: like the broker look-up (§7b), anonymous with the instance credential, from the guest's address.
        var provision = routes.MapGroup("/api/provision/upgrade")
            .WithTags("Provision")
            .AllowAnonymous()
            .DisableAntiforgery()
            .RequireRateLimiting(ProvisionApi.RateLimitPolicy)
            .WithRequestBodyLimit(RequestBodyLimits.Provision);

        provision.MapGet("/", GetOrderAsync)
            .WithName("GetProvisionUpgrade")
            .WithSummary("For an LXC guest's upgrade timer: the upgrade waiting for it (release, pinned community-scripts commit, builder, app version), or 204 when there is none.")
            .WithDescription("Needs the instance credential (X-Ctrlable-Instance-Credential); the call must come from the guest's address. 403 denied / address-mismatch, 409 not-ready and 503 proxmox-unavailable (see Retry-After), 429 when rate-limited. No secret in the answer.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        provision.MapPost("/complete", ReportAsync)
            .WithName("CompleteProvisionUpgrade")
            .WithSummary("The guest reports its update: ok with the installed versions, or failed with its message (the orchestrator then rolls it back to its snapshot).")
            .WithDescription("Needs the instance credential. 204 recorded; 409 not-upgrading when no upgrade to that release waits for a report (a repeat, or one the orchestrator gave up on).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return routes;
    }

    private static async Task<Results<Accepted<InstanceDto>, ProblemHttpResult>> UpgradeInstanceAsync(long id, UpgradeService upgrades, UpgradeOffers offers, HttpContext http, CancellationToken ct)
    {
        var (row, refusal) = await upgrades.UpgradeInstanceAsync(id, Actor.From(http.User)?.Name, ct);
        return row is null ? refusal!.ToProblem() : TypedResults.Accepted($"/api/instances/{id}", InstanceDto.Of(row) with { Upgrade = await offers.OfferAsync(row, ct) });
    }

    private static async Task<Results<Accepted<ProjectUpgradeDto>, ProblemHttpResult>> UpgradeProjectAsync(long id, UpgradeService upgrades, HttpContext http, CancellationToken ct)
    {
        var (started, skipped, refusal) = await upgrades.UpgradeProjectAsync(id, Actor.From(http.User)?.Name, ct);
        return started is null ? refusal!.ToProblem() : TypedResults.Accepted($"/api/projects/{id}", new ProjectUpgradeDto(id, [.. started.Select(InstanceDto.Of)], skipped));
    }

    private static async Task<Results<Ok<GuestUpgradeOrder>, NoContent, ValidationProblem, ProblemHttpResult>> GetOrderAsync(
        [Description("The guest's host name.")] string? hostname,
        [FromHeader(Name = ProvisionApi.CredentialHeader), Description("The guest's instance credential.")] string? credential,
        HttpContext context,
        GuestUpgrade guests,
        CancellationToken ct)
    {
        if (Invalid(hostname, credential) is { } invalid)
        {
            return invalid;
        }

        var (order, refused) = await guests.OrderAsync(hostname!, credential!, context.Connection.RemoteIpAddress, ct);
        return refused is not null ? ProvisionApi.Problem(context, refused) : order is null ? TypedResults.NoContent() : TypedResults.Ok(order);
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ReportAsync(
        GuestUpgradeReport report,
        [FromHeader(Name = ProvisionApi.CredentialHeader), Description("The guest's instance credential.")] string? credential,
        HttpContext context,
        GuestUpgrade guests,
        CancellationToken ct)
    {
        if (Invalid(report.Hostname, credential) is { } invalid)
        {
            return invalid;
        }

        var versions = report.Versions ?? new Dictionary<string, string>();
        if (versions.Count > MaxVersions || versions.Any(v => v.Key.Length is 0 or > 64 || v.Value.Length > 128) || report.Release is not { Length: > 0 and <= 32 })
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["versions"] = [$"A release, and at most {MaxVersions} versions with names of 1–64 and versions of up to 128 characters."],
            });
        }

        context.Audit().ActorName = report.Hostname;
        context.Audit().Target = $"hostname={report.Hostname}; upgrade to {report.Release}; status={report.Status.ToString().ToLowerInvariant()}";
        var message = report.Message?.ReplaceLineEndings(" ").Trim();
        var (recorded, refused) = await guests.ReportAsync(report with { Message = message is { Length: > MaxMessageLength } ? message[..MaxMessageLength] : message, Versions = versions },
            credential!, context.Connection.RemoteIpAddress, ct);
        return refused is not null ? ProvisionApi.Problem(context, refused)
            : recorded ? TypedResults.NoContent()
            : TypedResults.Problem(title: "No upgrade waits", detail: $"No upgrade of {report.Hostname} to {report.Release} waits for a report.", statusCode: StatusCodes.Status409Conflict,
                extensions: new Dictionary<string, object?> { ["code"] = "not-upgrading" });
    }

    private static ValidationProblem? Invalid(string? hostname, string? credential)
    {
        var errors = new Dictionary<string, string[]>();
        if (!ProvisionService.IsValidHostname(hostname))
        {
            errors["hostname"] = ["The guest's host name (a DNS label) is required."];
        }

        if (string.IsNullOrEmpty(credential) || credential.Length > 256)
        {
            errors["instanceCredential"] = [$"The instance credential is required, in the {ProvisionApi.CredentialHeader} header."];
        }

        return errors.Count == 0 ? null : TypedResults.ValidationProblem(errors);
    }
}
