using System.ComponentModel;
using System.Text;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Manifest;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Releases;

public sealed record ManifestValidationResult(
    string Release,
    int TemplateCount,
    [property: Description("What an operator should know that does not make the manifest invalid (e.g. a privileged container).")]
    IReadOnlyList<ManifestError> Warnings);

public static class ReleasesApi
{
    // A release manifest is a few KiB; anything near this is not one.
    private const int MaxManifestBytes = (int)RequestBodyLimits.Manifest;

    /// <summary>
    /// Releases: every releases/*.yaml, and the Home Assistant base backup per release (a file in &lt;data&gt;/base-backups,
    /// checksum recorded, credentials encrypted).
    /// </summary>
    public static IServiceCollection AddReleases(this IServiceCollection services)
    {
        services.AddSingleton(sp => new ReleaseCatalog(ResolveReleasesDirectory(
            sp.GetRequiredService<IOptions<StorageOptions>>().Value, sp.GetRequiredService<IHostEnvironment>())));
        services.AddSingleton<ReleaseService>();
        services.AddSingleton<BaseBackupStore>();
        services.AddSingleton<TemplateRemoval>();
        services.AddSingleton<IValidateOptions<ReleasesOptions>, ReleasesOptionsValidator>();
        services.AddOptions<ReleasesOptions>().BindConfiguration(ReleasesOptions.Section).ValidateOnStart();
        services.AddSingleton<TemplateExpiry>();
        services.AddHostedService(sp => sp.GetRequiredService<TemplateExpiry>());
        return services;
    }

    private static string ResolveReleasesDirectory(StorageOptions storage, IHostEnvironment environment)
    {
        if (storage.ReleasesDirectory.Length > 0)
        {
            return Path.GetFullPath(storage.ReleasesDirectory);
        }

        // Development runs from backend/Ctrlable.Provisioner; the bundle ships releases/ beside the binary.
        for (var dir = new DirectoryInfo(environment.ContentRootPath); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "releases");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return Path.Combine(environment.ContentRootPath, "releases");
    }

    public static RouteGroupBuilder MapReleases(this IEndpointRouteBuilder routes)
    {
        // Validation changes nothing, so viewers may use it too.
        var group = routes.MapGroup("/api/releases").WithTags("Releases").RequireRole(Role.Viewer);

        group.MapGet("/", async Task<Ok<IReadOnlyList<ReleaseSummary>>> (ReleaseService service, CancellationToken ct) =>
                TypedResults.Ok(await service.ListAsync(ct)))
            .WithName("ListReleases")
            .WithSummary("List the release manifests in releases/, each with its validity and errors.");

        group.MapGet("/{release}", async Task<Results<Ok<ReleaseDetail>, ProblemHttpResult>> (string release, ReleaseService service, CancellationToken ct) =>
                await service.GetAsync(release, ct) is { } detail
                    ? TypedResults.Ok(detail)
                    : ReleaseNotFound(release))
            .WithName("GetRelease")
            .WithSummary("One release: its parsed manifest and the build state of each template on this host.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/{release}/manifest", Results<ContentHttpResult, ProblemHttpResult> (string release, ReleaseService service) =>
                service.FindFile(release) switch
                {
                    null => ReleaseNotFound(release),
                    { IsValid: false } file => TypedResults.Problem(
                        title: "Release manifest is invalid",
                        detail: $"{ReleaseService.DisplayPath(file)} has {file.Errors.Count} error(s): {string.Join("; ", file.Errors)}",
                        statusCode: StatusCodes.Status409Conflict),
                    var file => TypedResults.Text(file.Yaml, "application/yaml", Encoding.UTF8),
                })
            .WithName("GetReleaseManifest")
            .WithSummary("The raw YAML of a valid release manifest (read by the host build wrapper).")
            .Produces<string>(StatusCodes.Status200OK, "application/yaml")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapPost("/validate", ValidateAsync)
            .WithName("ValidateReleaseManifest")
            .WithSummary("Validate a release manifest sent as the YAML request body; every error (and warning) has file, line, column and YAML path.")
            .Accepts<string>("application/yaml", "text/yaml", "text/plain")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithRequestBodyLimit(RequestBodyLimits.Manifest);

        group.MapGet("/{release}/templates", async Task<Results<Ok<ReleaseTemplates>, ProblemHttpResult>> (string release, TemplateRemoval removal, CancellationToken ct) =>
                await removal.GetAsync(release, ct) switch
                {
                    ({ } templates, _) => TypedResults.Ok(templates),
                    (_, var refusal) => refusal!.ToProblem(),
                })
            .WithName("GetReleaseTemplates")
            .WithSummary("The templates this host has of a release, each with its VMID, whether the orchestrator can remove it and the guests whose disks are linked clones of its base volume (read from Proxmox: every guest's config).")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status502BadGateway);

        group.MapDelete("/{release}/templates", RemoveTemplatesAsync)
            .RequireRole(Role.Admin)
            .WithName("RemoveReleaseTemplates")
            .WithSummary("Destroy the templates of a release that is not active, once no guest holds their base volume: only templates its build proved the orchestrator's " +
                "(run id and MAC address on the template); 409 'templates-in-use' naming the guests (nothing removed), 'release-active', 'build-running', 'deploy-running'.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status502BadGateway);

        group.MapBaseBackup();
        return group;
    }

    private static async Task<Results<Ok<ManifestValidationResult>, ValidationProblem, ProblemHttpResult>> ValidateAsync(
        HttpRequest request, string? file, CancellationToken ct)
    {
        if (request.ContentLength > MaxManifestBytes)
        {
            return TooLarge();
        }

        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var buffer = new char[MaxManifestBytes + 1];
        var read = await reader.ReadBlockAsync(buffer.AsMemory(), ct);
        if (read > MaxManifestBytes)
        {
            return TooLarge();
        }

        var result = ManifestParser.Parse(string.IsNullOrWhiteSpace(file) ? "request.yaml" : file, new string(buffer, 0, read));
        if (result.IsValid)
        {
            return TypedResults.Ok(new ManifestValidationResult(result.Manifest!.Release, result.Manifest.Templates.Count, result.Warnings));
        }

        var errors = result.Errors
            .GroupBy(e => e.Path.Length == 0 ? "$" : e.Path)
            .ToDictionary(g => g.Key, g => g.Select(e => $"{e.File}:{e.Line}:{e.Column}: {e.Message}").ToArray());
        return TypedResults.ValidationProblem(
            errors,
            title: $"The manifest has {result.Errors.Count} error(s).",
            extensions: new Dictionary<string, object?> { ["manifestErrors"] = result.Errors, ["manifestWarnings"] = result.Warnings });
    }

    private static async Task<Results<Ok<TemplatesRemovalResult>, ProblemHttpResult>> RemoveTemplatesAsync(
        string release, TemplateRemoval removal, HttpContext http, CancellationToken ct)
    {
        var (result, refusal) = await removal.RemoveAsync(release, Actor.From(http.User)?.Name, ct);
        if (result is null)
        {
            return refusal!.ToProblem();
        }

        http.Audit().Target = $"release={release}; " + string.Join(", ", result.Templates.Select(t => $"{t.Name} {t.Vmid} {t.Outcome.ToString().ToLowerInvariant()}"));
        return TypedResults.Ok(result);
    }

    private static ProblemHttpResult TooLarge() => TypedResults.Problem(
        title: "Manifest too large",
        detail: $"A release manifest may be at most {MaxManifestBytes / 1024} KiB.",
        statusCode: StatusCodes.Status413PayloadTooLarge);

    private static ProblemHttpResult ReleaseNotFound(string release) => TypedResults.Problem(
        title: "Release not found",
        detail: $"There is no release '{release}' in the releases directory.",
        statusCode: StatusCodes.Status404NotFound);
}
