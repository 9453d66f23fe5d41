using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.State;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>Which components to deploy; empty or absent = every template of the active release.</summary>
public sealed record DeployRequest(IReadOnlyList<string>? Types);

public sealed record AddInstanceRequest(string Type);

/// <summary>Component names as the manifest spells template names; whether the active release has them is the service's to say.</summary>
public sealed class DeployRequestValidator : AbstractValidator<DeployRequest>
{
    // More than a release ever has; keeps a request from naming thousands.
    public const int MaxTypes = 64;

    public DeployRequestValidator()
    {
        RuleFor(r => r.Types).Must(t => t is null || t.Count <= MaxTypes).WithMessage($"At most {MaxTypes} components.").OverridePropertyName("types");
        RuleForEach(r => r.Types).Must(IsTemplateName).WithMessage("'{PropertyValue}' is not a component name (a-z, 0-9 and '-').").OverridePropertyName("types");
    }

    internal static bool IsTemplateName(string? type) => type is not null && ShellSafeGrammar.Name.IsMatch(type);
}

public sealed class AddInstanceRequestValidator : AbstractValidator<AddInstanceRequest>
{
    public AddInstanceRequestValidator() =>
        RuleFor(r => r.Type).Must(DeployRequestValidator.IsTemplateName)
            .WithMessage("Name the component to add (a template name of the active release: a-z, 0-9 and '-').").OverridePropertyName("type");
}

public sealed record DeployDto(long Id, long ProjectId, string Release, IReadOnlyList<InstanceDto> Instances);

/// <summary>Deploys into a project, the deploys, and the instances they made: one named handler per route.</summary>
public static class DeployApi
{
    private static readonly string[] PowerActions = ["start", "stop", "shutdown", "reboot"];

    public static IEndpointRouteBuilder MapDeploy(this IEndpointRouteBuilder routes)
    {
        MapProjectDeploys(routes);
        MapDeploys(routes);
        MapInstances(routes);
        return routes;
    }

    private static void MapProjectDeploys(IEndpointRouteBuilder routes)
    {
        var projects = routes.MapGroup("/api/projects").WithTags("Projects");

        projects.MapPost("/{id:long}/deploy", DeployStackAsync)
            .WithValidation<DeployRequest>()
            .RequireRole(Role.Operator).WithName("DeployStack")
            .WithSummary("One-click stack deploy: clones every requested component (default: every template of the active release) and brings each to active. A component the active release has not built on this host is refused: 409 with code components-unavailable and 'missing' [{type, reason}]. Progress: GET /api/deploys/{id}/events.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        projects.MapPost("/{id:long}/instances", AddInstanceAsync)
            .WithValidation<AddInstanceRequest>()
            .RequireRole(Role.Operator).WithName("AddInstance").WithSummary("Add one more instance of a component to a project (409 components-unavailable when the active release has not built it on this host).")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        projects.MapGet("/{id:long}/events", StreamProject)
            .RequireRole(Role.Viewer).WithName("ProjectEvents")
            .WithSummary("Server-Sent Events: a 'snapshot' event with every instance of the project (InstanceProgress[]), then a 'progress' event (InstanceProgress) for each step as it happens.")
            .Produces<InstanceProgress>(StatusCodes.Status200OK, "text/event-stream");
    }

    private static void MapDeploys(IEndpointRouteBuilder routes)
    {
        var deploys = routes.MapGroup("/api/deploys").WithTags("Projects").RequireRole(Role.Viewer);

        deploys.MapGet("/{id:long}", GetDeployAsync)
            .WithName("GetDeploy").WithSummary("A deploy and the current state of each of its instances.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        deploys.MapGet("/{id:long}/events", StreamDeploy)
            .WithName("DeployEvents").WithSummary("Server-Sent Events of one deploy: a 'snapshot' event (InstanceProgress[]), then a 'progress' event (InstanceProgress) per step.")
            .Produces<InstanceProgress>(StatusCodes.Status200OK, "text/event-stream");
    }

    private static void MapInstances(IEndpointRouteBuilder routes)
    {
        var instances = routes.MapGroup("/api/instances").WithTags("Instances");

        instances.MapGet("/{id:long}", GetInstanceAsync)
            .RequireRole(Role.Viewer).WithName("GetInstance").WithSummary("One instance: state, step message, error, VMID, node, MAC, IP.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        foreach (var action in PowerActions)
        {
            var title = $"{char.ToUpperInvariant(action[0])}{action[1..]}";
            instances.MapPost($"/{{id:long}}/{action}", (long id, DeployService deploy, CancellationToken ct) => PowerAsync(id, action, deploy, ct))
                .RequireRole(Role.Operator).WithName($"{title}Instance")
                .WithSummary($"{title} the instance's guest and wait for Proxmox's task.")
                .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status502BadGateway);
        }

        instances.MapPost("/{id:long}/retry", RetryAsync)
            .RequireRole(Role.Operator).WithName("RetryInstance").WithSummary("Retry a failed instance from where it failed.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        instances.MapDelete("/{id:long}", DeleteAsync)
            .RequireRole(Role.Operator).WithName("DeleteInstance")
            .WithSummary("Stop and destroy the instance's guest (disks purged). The instance is kept as history with state deleted.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static async Task<Results<Accepted<DeployDto>, ProblemHttpResult>> DeployStackAsync(long id, DeployRequest? request, DeployService deploy, HttpContext http, CancellationToken ct) =>
        Started(await deploy.DeployAsync(id, request?.Types, "stack", Actor.From(http.User)?.Name, ct));

    private static async Task<Results<Accepted<DeployDto>, ProblemHttpResult>> AddInstanceAsync(long id, AddInstanceRequest request, DeployService deploy, HttpContext http, CancellationToken ct) =>
        Started(await deploy.DeployAsync(id, [request.Type], "instance", Actor.From(http.User)?.Name, ct));

    private static ServerSentEventsResult<object> StreamProject(long id, InstanceChanges events, InstanceRepository repo, ProvisionerMetrics metrics, CancellationToken ct) =>
        TypedResults.ServerSentEvents(metrics.Subscribed(Stream(events, async c => await repo.ListByProjectAsync(id, includeDeleted: true, c), p => p.ProjectId == id, ct), "instances", ct));

    private static async Task<Results<Ok<DeployDto>, ProblemHttpResult>> GetDeployAsync(long id, InstanceRepository repo, CancellationToken ct) =>
        await repo.ListByDeployAsync(id, ct) is { Count: > 0 } rows
            ? TypedResults.Ok(new DeployDto(id, rows[0].ProjectId, rows[0].Release ?? "", [.. rows.Select(InstanceDto.Of)]))
            : new Refusal(404, "Deploy not found", $"There is no deploy {id}.").ToProblem();

    private static ServerSentEventsResult<object> StreamDeploy(long id, InstanceChanges events, InstanceRepository repo, ProvisionerMetrics metrics, CancellationToken ct) =>
        TypedResults.ServerSentEvents(metrics.Subscribed(Stream(events, async c => await repo.ListByDeployAsync(id, c), p => p.DeployId == id, ct), "instances", ct));

    private static async Task<Results<Ok<InstanceDto>, ProblemHttpResult>> GetInstanceAsync(long id, InstanceRepository repo, IUpgradeOffers offers, CancellationToken ct) =>
        await repo.GetAsync(id, ct) is { } row ? TypedResults.Ok((await InstanceDto.WithOffersAsync([row], offers, ct))[0]) : DeployService.InstanceNotFound(id).ToProblem();

    /// <summary>The handler of one power action; the action is part of the route, not a parameter.</summary>
    private static async Task<Results<Ok<InstanceDto>, ProblemHttpResult>> PowerAsync(long id, string action, DeployService deploy, CancellationToken ct) =>
        Done(await deploy.PowerAsync(id, action, ct));

    private static async Task<Results<Ok<InstanceDto>, ProblemHttpResult>> RetryAsync(long id, DeployService deploy, CancellationToken ct) =>
        Done(await deploy.RetryAsync(id, ct));

    private static async Task<Results<Ok<InstanceDto>, ProblemHttpResult>> DeleteAsync(long id, DeployService deploy, CancellationToken ct) =>
        Done(await deploy.DeleteAsync(id, ct));

    private static Results<Accepted<DeployDto>, ProblemHttpResult> Started((DeployStarted? Deploy, Refusal? Refusal) result) =>
        result.Deploy is { } d
            ? TypedResults.Accepted($"/api/deploys/{d.DeployId}", new DeployDto(d.DeployId, d.ProjectId, d.Release, [.. d.Instances.Select(InstanceDto.Of)]))
            : result.Refusal!.ToProblem();

    private static Results<Ok<InstanceDto>, ProblemHttpResult> Done((InstanceRow? Instance, Refusal? Refusal) result) =>
        result.Instance is { } row ? TypedResults.Ok(InstanceDto.Of(row)) : result.Refusal!.ToProblem();

    /// <summary>
    /// A <c>snapshot</c> event with the current state of every instance first (so a reloaded page has the whole
    /// picture, and the stream opens at once), then a <c>progress</c> event per step.
    /// </summary>
    private static async IAsyncEnumerable<SseItem<object>> Stream(
        InstanceChanges events, Func<CancellationToken, Task<IReadOnlyList<InstanceRow>>> current, Func<InstanceProgress, bool> mine, [EnumeratorCancellation] CancellationToken ct)
    {
        using var subscription = events.SubscribeFeed();
        IReadOnlyList<InstanceProgress> snapshot = [.. (await current(ct)).Select(InstanceProgress.Of)];
        yield return new SseItem<object>(snapshot, "snapshot");

        await foreach (var change in subscription.Reader.ReadAllAsync(ct))
        {
            if (change.Instance is { } row && mine(InstanceProgress.Of(row)))
            {
                yield return new SseItem<object>(InstanceProgress.Of(row), "progress");
            }
        }
    }
}
