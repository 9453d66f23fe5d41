using System.ComponentModel;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.State;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Deploy;

public sealed record InstanceDto(
    long Id,
    long ProjectId,
    long? DeployId,
    string Type,
    string Kind,
    string Hostname,
    int? Vmid,
    string? Node,
    string? Mac,
    string? Ip,
    string State,
    int Percent,
    string? Release,
    string? CloneMode,
    string? Message,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    [property: Description("A coordinator of the site is on USB: the guest needs a manual USB passthrough in its LXC config on the Proxmox host.")] bool NeedsBinding,
    [property: Description("What the guest reported at the end of its first boot, app -> version.")] IReadOnlyDictionary<string, string>? InstalledVersions,
    [property: Description("Where to open the guest's app in a browser: Home Assistant's URL for ctrlable-pro once the orchestrator located it; null otherwise.")] string? AppUrl)
{
    public static InstanceDto Of(InstanceRow r) => new(
        r.Id, r.ProjectId, r.DeployId, r.Type, r.Kind ?? "lxc", r.Hostname, r.Vmid is { } v ? (int)v : null, r.Node, r.Mac, r.Ip, r.State,
        InstanceProgress.PercentOf(r.State), r.Release, r.CloneMode, r.Message, r.Error, r.CreatedAt, r.UpdatedAt, r.NeedsBinding,
        r.ReportedVersions(), r.AppUrl);
}

public sealed record ProjectDto(long Id, string Name, string Slug, SiteSettings Settings, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, IReadOnlyList<InstanceDto> Instances)
{
    public static ProjectDto Of(ProjectRow p, IReadOnlyList<InstanceRow> instances) => new(
        // Redacted again here so that no response can carry a camera password, whatever the row holds.
        p.Id, p.Name, p.Slug, CameraCredentials.Redact(SiteSettings.FromJson(p.SettingsJson)),
        p.CreatedAt, p.UpdatedAt, [.. instances.Select(InstanceDto.Of)]);
}

/// <summary>Which components to deploy; empty or absent = every template of the active release.</summary>
public sealed record DeployRequest(IReadOnlyList<string>? Types);

public sealed record AddInstanceRequest(string Type);

public sealed record DeployDto(long Id, long ProjectId, string Release, IReadOnlyList<InstanceDto> Instances);

public static class DeployApi
{
    public static IEndpointRouteBuilder MapDeploy(this IEndpointRouteBuilder routes)
    {
        var projects = routes.MapGroup("/api/projects").WithTags("Projects");

        projects.MapGet("/", async Task<Ok<IReadOnlyList<ProjectDto>>> (InstanceRepository repo, CancellationToken ct) =>
            {
                var list = await repo.ListProjectsAsync(ct);
                var live = (await repo.ListLiveAsync(ct)).ToLookup(i => i.ProjectId);
                return TypedResults.Ok<IReadOnlyList<ProjectDto>>([.. list.Select(p => ProjectDto.Of(p, [.. live[p.Id]]))]);
            })
            .RequireRole(Role.Viewer).WithName("ListProjects").WithSummary("Every project (customer site) with its live instances.");

        projects.MapPost("/", async Task<Results<Created<ProjectDto>, ProblemHttpResult>> (CreateProjectRequest request, DeployService deploy, CancellationToken ct) =>
            {
                var (project, refusal) = await deploy.CreateProjectAsync(request, ct);
                return project is null ? Problem(refusal!) : TypedResults.Created($"/api/projects/{project.Id}", ProjectDto.Of(project, []));
            })
            .WithValidation<CreateProjectRequest>()
            .RequireRole(Role.Operator).WithName("CreateProject")
            .WithSummary("Create a project: a customer site with the settings its guests are wired with (coordinators, MQTT, cameras, network). The slug is derived from the name when not given.")
            .ProducesProblem(StatusCodes.Status409Conflict);

        projects.MapGet("/{id:long}", async Task<Results<Ok<ProjectDto>, ProblemHttpResult>> (long id, InstanceRepository repo, CancellationToken ct) =>
                await repo.GetProjectAsync(id, ct) is { } project
                    ? TypedResults.Ok(ProjectDto.Of(project, await repo.ListByProjectAsync(id, includeDeleted: false, ct)))
                    : Problem(new Refusal(404, "Project not found", $"There is no project {id}.")))
            .RequireRole(Role.Viewer).WithName("GetProject").WithSummary("A project with its settings and live instances.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        projects.MapPut("/{id:long}", async Task<Results<Ok<ProjectDto>, ProblemHttpResult>> (long id, UpdateProjectRequest request, DeployService deploy, InstanceRepository repo, CancellationToken ct) =>
                await deploy.UpdateProjectAsync(id, request, ct) is { } refusal
                    ? Problem(refusal)
                    : TypedResults.Ok(ProjectDto.Of((await repo.GetProjectAsync(id, ct))!, await repo.ListByProjectAsync(id, includeDeleted: false, ct))))
            .WithValidation<UpdateProjectRequest>()
            .RequireRole(Role.Operator).WithName("UpdateProject").WithSummary("Change a project's name and site settings (used by instances deployed from now on).")
            .ProducesProblem(StatusCodes.Status404NotFound);

        projects.MapPost("/{id:long}/deploy", async Task<Results<Accepted<DeployDto>, ProblemHttpResult>> (long id, DeployRequest? request, DeployService deploy, HttpContext http, CancellationToken ct) =>
                Started(await deploy.DeployAsync(id, request?.Types, "stack", Actor.From(http.User)?.Name, ct)))
            .RequireRole(Role.Operator).WithName("DeployStack")
            .WithSummary("One-click stack deploy: clones every requested component (default: every template of the active release) and brings each to active. A component the active release has not built on this host is refused: 409 with code components-unavailable and 'missing' [{type, reason}]. Progress: GET /api/deploys/{id}/events.")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        projects.MapPost("/{id:long}/instances", async Task<Results<Accepted<DeployDto>, ProblemHttpResult>> (long id, AddInstanceRequest request, DeployService deploy, HttpContext http, CancellationToken ct) =>
                Started(await deploy.DeployAsync(id, [request.Type], "instance", Actor.From(http.User)?.Name, ct)))
            .RequireRole(Role.Operator).WithName("AddInstance").WithSummary("Add one more instance of a component to a project (409 components-unavailable when the active release has not built it on this host).")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        projects.MapGet("/{id:long}/events", (long id, InstanceChanges events, InstanceRepository repo, ProvisionerMetrics metrics, CancellationToken ct) =>
                TypedResults.ServerSentEvents(metrics.Subscribed(Stream(events, async c => await repo.ListByProjectAsync(id, includeDeleted: true, c), p => p.ProjectId == id, ct), "instances", ct)))
            .RequireRole(Role.Viewer).WithName("ProjectEvents")
            .WithSummary("Server-Sent Events: a 'snapshot' event with every instance of the project (InstanceProgress[]), then a 'progress' event (InstanceProgress) for each step as it happens.")
            .Produces<InstanceProgress>(StatusCodes.Status200OK, "text/event-stream");

        var deploys = routes.MapGroup("/api/deploys").WithTags("Projects").RequireRole(Role.Viewer);
        deploys.MapGet("/{id:long}", async Task<Results<Ok<DeployDto>, ProblemHttpResult>> (long id, InstanceRepository repo, CancellationToken ct) =>
                await repo.ListByDeployAsync(id, ct) is { Count: > 0 } rows
                    ? TypedResults.Ok(new DeployDto(id, rows[0].ProjectId, rows[0].Release ?? "", [.. rows.Select(InstanceDto.Of)]))
                    : Problem(new Refusal(404, "Deploy not found", $"There is no deploy {id}.")))
            .WithName("GetDeploy").WithSummary("A deploy and the current state of each of its instances.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        deploys.MapGet("/{id:long}/events", (long id, InstanceChanges events, InstanceRepository repo, ProvisionerMetrics metrics, CancellationToken ct) =>
                TypedResults.ServerSentEvents(metrics.Subscribed(Stream(events, async c => await repo.ListByDeployAsync(id, c), p => p.DeployId == id, ct), "instances", ct)))
            .WithName("DeployEvents").WithSummary("Server-Sent Events of one deploy: a 'snapshot' event (InstanceProgress[]), then a 'progress' event (InstanceProgress) per step.")
            .Produces<InstanceProgress>(StatusCodes.Status200OK, "text/event-stream");

        var instances = routes.MapGroup("/api/instances").WithTags("Instances");
        instances.MapGet("/{id:long}", async Task<Results<Ok<InstanceDto>, ProblemHttpResult>> (long id, InstanceRepository repo, CancellationToken ct) =>
                await repo.GetAsync(id, ct) is { } row ? TypedResults.Ok(InstanceDto.Of(row)) : Problem(new Refusal(404, "Instance not found", $"There is no instance {id}.")))
            .RequireRole(Role.Viewer).WithName("GetInstance").WithSummary("One instance: state, step message, error, VMID, node, MAC, IP.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        foreach (var action in new[] { "start", "stop", "shutdown", "reboot" })
        {
            instances.MapPost($"/{{id:long}}/{action}", async Task<Results<Ok<InstanceDto>, ProblemHttpResult>> (long id, DeployService deploy, CancellationToken ct) =>
                    Done(await deploy.PowerAsync(id, action, ct)))
                .RequireRole(Role.Operator).WithName($"{char.ToUpperInvariant(action[0])}{action[1..]}Instance")
                .WithSummary($"{char.ToUpperInvariant(action[0])}{action[1..]} the instance's guest and wait for Proxmox's task.")
                .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status502BadGateway);
        }

        instances.MapPost("/{id:long}/retry", async Task<Results<Ok<InstanceDto>, ProblemHttpResult>> (long id, DeployService deploy, CancellationToken ct) =>
                Done(await deploy.RetryAsync(id, ct)))
            .RequireRole(Role.Operator).WithName("RetryInstance").WithSummary("Retry a failed instance from where it failed.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        instances.MapDelete("/{id:long}", async Task<Results<Ok<InstanceDto>, ProblemHttpResult>> (long id, DeployService deploy, CancellationToken ct) =>
                Done(await deploy.DeleteAsync(id, ct)))
            .RequireRole(Role.Operator).WithName("DeleteInstance")
            .WithSummary("Stop and destroy the instance's guest (disks purged). The instance is kept as history with state deleted.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        return routes;
    }

    private static Results<Accepted<DeployDto>, ProblemHttpResult> Started((DeployStarted? Deploy, Refusal? Refusal) result) =>
        result.Deploy is { } d
            ? TypedResults.Accepted($"/api/deploys/{d.DeployId}", new DeployDto(d.DeployId, d.ProjectId, d.Release, [.. d.Instances.Select(InstanceDto.Of)]))
            : Problem(result.Refusal!);

    private static Results<Ok<InstanceDto>, ProblemHttpResult> Done((InstanceRow? Instance, Refusal? Refusal) result) =>
        result.Instance is { } row ? TypedResults.Ok(InstanceDto.Of(row)) : Problem(result.Refusal!);

    private static ProblemHttpResult Problem(Refusal refusal)
    {
        var extensions = new Dictionary<string, object?>(refusal.Extensions ?? new Dictionary<string, object?>());
        if (refusal.Errors is { } errors)
        {
            extensions["errors"] = errors;
        }

        return TypedResults.Problem(title: refusal.Title, detail: refusal.Detail, statusCode: refusal.Status, extensions: extensions.Count == 0 ? null : extensions);
    }

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
