using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.State;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Projects;

public sealed record ProjectDto(long Id, string Name, string Slug, SiteSettings Settings, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, IReadOnlyList<InstanceDto> Instances)
{
    public static ProjectDto Of(ProjectRow p, IReadOnlyList<InstanceRow> instances) => OfDtos(p, [.. instances.Select(InstanceDto.Of)]);

    public static ProjectDto OfDtos(ProjectRow p, IReadOnlyList<InstanceDto> instances) => new(
        // Redacted again here so that no response can carry a camera password, whatever the row holds.
        p.Id, p.Name, p.Slug, CameraCredentials.Redact(SiteSettings.FromJson(p.SettingsJson)),
        p.CreatedAt, p.UpdatedAt, instances);

    /// <summary>With each instance's upgrade offer (upgrade available from → to).</summary>
    public static async Task<ProjectDto> WithOffersAsync(ProjectRow p, IReadOnlyList<InstanceRow> instances, IUpgradeOffers offers, CancellationToken ct) =>
        OfDtos(p, await InstanceDto.WithOffersAsync(instances, offers, ct));
}

/// <summary>Projects (customer sites) and their settings; deploying into a project is <c>Deploy/DeployApi</c>'s.</summary>
public static class ProjectsApi
{
    /// <summary>Projects and their camera passwords (kept in the secret store, never in the settings JSON).</summary>
    public static IServiceCollection AddProjects(this IServiceCollection services)
    {
        services.AddSingleton<ProjectService>();
        services.AddSingleton<CameraCredentials>();
        return services;
    }

    public static RouteGroupBuilder MapProjects(this IEndpointRouteBuilder routes)
    {
        var projects = routes.MapGroup("/api/projects").WithTags("Projects");

        projects.MapGet("/", ListAsync)
            .RequireRole(Role.Viewer).WithName("ListProjects").WithSummary("Every project (customer site) with its live instances.");

        projects.MapPost("/", CreateAsync)
            .WithValidation<CreateProjectRequest>()
            .RequireRole(Role.Operator).WithName("CreateProject")
            .WithSummary("Create a project: a customer site with the settings its guests are wired with (coordinators, MQTT, cameras, network). The slug is derived from the name when not given.")
            .ProducesProblem(StatusCodes.Status409Conflict);

        projects.MapGet("/{id:long}", GetAsync)
            .RequireRole(Role.Viewer).WithName("GetProject").WithSummary("A project with its settings and live instances.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        projects.MapPut("/{id:long}", UpdateAsync)
            .WithValidation<UpdateProjectRequest>()
            .RequireRole(Role.Operator).WithName("UpdateProject").WithSummary("Change a project's name and site settings (used by instances deployed from now on).")
            .ProducesProblem(StatusCodes.Status404NotFound);

        return projects;
    }

    private static async Task<Ok<IReadOnlyList<ProjectDto>>> ListAsync(InstanceRepository repo, IUpgradeOffers offers, CancellationToken ct)
    {
        var list = await repo.ListProjectsAsync(ct);
        var rows = await repo.ListLiveAsync(ct);
        var dtos = (await InstanceDto.WithOffersAsync(rows, offers, ct)).ToLookup(i => i.ProjectId);
        return TypedResults.Ok<IReadOnlyList<ProjectDto>>([.. list.Select(p => ProjectDto.OfDtos(p, [.. dtos[p.Id]]))]);
    }

    private static async Task<Results<Created<ProjectDto>, ProblemHttpResult>> CreateAsync(CreateProjectRequest request, ProjectService projects, CancellationToken ct)
    {
        var (project, refusal) = await projects.CreateAsync(request, ct);
        return project is null ? refusal!.ToProblem() : TypedResults.Created($"/api/projects/{project.Id}", ProjectDto.Of(project, []));
    }

    private static async Task<Results<Ok<ProjectDto>, ProblemHttpResult>> GetAsync(long id, InstanceRepository repo, IUpgradeOffers offers, CancellationToken ct) =>
        await repo.GetProjectAsync(id, ct) is { } project
            ? TypedResults.Ok(await ProjectDto.WithOffersAsync(project, await repo.ListByProjectAsync(id, includeDeleted: false, ct), offers, ct))
            : ProjectService.NotFound(id).ToProblem();

    private static async Task<Results<Ok<ProjectDto>, ProblemHttpResult>> UpdateAsync(long id, UpdateProjectRequest request, ProjectService projects, InstanceRepository repo, CancellationToken ct) =>
        await projects.UpdateAsync(id, request, ct) is { } refusal
            ? refusal.ToProblem()
            : TypedResults.Ok(ProjectDto.Of((await repo.GetProjectAsync(id, ct))!, await repo.ListByProjectAsync(id, includeDeleted: false, ct)));
}
