using System.ComponentModel;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Build;

/// <summary>
/// Marks the endpoints only the host wrapper calls: anonymous for ASP.NET (no session, no API token, no
/// antiforgery), but each one answers 401 unless the request carries the running build's ticket
/// (<c>Authorization: Bearer ctb_...</c>). The auth matrix test expects exactly that.
/// </summary>
public sealed record BuildTicketMetadata;

public static class BuildApi
{
    private const int MaxHistory = 100;

    /// <summary>Builds: the restricted SSH host trigger (its settings checked at start), build records, live progress, checks.</summary>
    public static IServiceCollection AddBuilds(this IServiceCollection services)
    {
        services.AddConfigOptions<HostTriggerOptions>(HostTriggerOptions.Section);
        services.AddSingleton<IHostTrigger, SshHostTrigger>();
        services.AddSingleton<BuildRepository>();
        services.AddSingleton<BuildLiveRegistry>();
        services.AddSingleton<BuildService>();
        services.AddSingleton<CheckTickets>();
        services.AddSingleton<BuildCheckService>();
        services.AddHostedService<BuildRecovery>();
        // On the way out a running build is failed and recorded before the host goes (StopAsync waits for it).
        services.AddHostedService(sp => sp.GetRequiredService<BuildService>());
        // Build tickets (ctb_) are not API tokens: only the host wrapper endpoints below read them.
        services.Configure<ApiTokenSchemeOptions>(ApiTokenAuthenticationHandler.SchemeName, o => o.OtherBearerPrefixes.Add(BuildTickets.Prefix));
        return services;
    }

    public static IEndpointRouteBuilder MapBuilds(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/releases/{release}/build", StartAsync)
            .WithValidation<StartBuildRequest>()
            .RequireRole(Role.Operator)
            .WithTags("Builds")
            .WithName("StartBuild")
            .WithSummary("Build a release on the Proxmox host (every template, or the ones named in 'templates', the others untouched): runs the host trigger in the background; follow it at /api/builds/{id}/events.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        routes.MapPost("/api/releases/{release}/check", CheckAsync)
            .WithValidation<CheckBuildRequest>()
            .RequireRole(Role.Operator)
            .WithTags("Builds")
            .WithName("CheckBuild")
            .WithSummary("Check the Proxmox host before a build (ctrlable-build --check: upstream reachable, storage and free space, template VMIDs free, host tools); changes nothing on the host and takes at most 2 minutes.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status502BadGateway)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);

        var group = routes.MapGroup("/api/builds").WithTags("Builds").RequireRole(Role.Viewer);

        group.MapGet("/", async Task<Ok<IReadOnlyList<BuildSummary>>> (string? release, int? limit, BuildRepository builds, CancellationToken ct) =>
                TypedResults.Ok<IReadOnlyList<BuildSummary>>([.. (await builds.ListAsync(release, Math.Clamp(limit ?? 20, 1, MaxHistory), ct)).Select(BuildRepository.ToSummary)]))
            .WithName("ListBuilds")
            .WithSummary("Build history, newest first; optionally of one release.");

        group.MapGet("/trigger", async Task<Ok<BuildTriggerInfo>> (IHostTrigger trigger, BuildRepository builds, CancellationToken ct) =>
            {
                var running = trigger.IsConfigured ? await builds.FindRunningAsync(trigger.Target, ct) : null;
                return TypedResults.Ok(new BuildTriggerInfo(trigger.IsConfigured, trigger.IsConfigured ? trigger.Target : null, running is null ? null : BuildRepository.ToSummary(running)));
            })
            .WithName("GetBuildTrigger")
            .WithSummary("Whether builds are possible (the host trigger is configured) and the build running now.");

        group.MapGet("/{id:long}", async Task<Results<Ok<BuildDetail>, ProblemHttpResult>> (long id, BuildRepository builds, BuildLiveRegistry live, CancellationToken ct) =>
            {
                var row = await builds.FindAsync(id, ct);
                if (row is null)
                {
                    return BuildNotFound(id);
                }

                var summary = live.Find(id)?.Summary ?? BuildRepository.ToSummary(row);
                return TypedResults.Ok(new BuildDetail(summary, await builds.GetLogAsync(id, ct)));
            })
            .WithName("GetBuild")
            .WithSummary("One build with its per-template progress and full log.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/{id:long}/events", EventsAsync)
            .WithName("StreamBuild")
            .WithSummary("Server-sent events of a build: 'build' (progress), 'log' (new log lines), 'end' (final state; the stream closes). Starts with the state and log so far.")
            .Produces<BuildStreamMessage>(StatusCodes.Status200OK, "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound);

        MapHostEndpoints(routes);
        return routes;
    }

    private static async Task<Results<Accepted<BuildSummary>, ProblemHttpResult>> StartAsync(
        string release, [FromBody] StartBuildRequest? request, BuildService service, HttpContext http, CancellationToken ct)
    {
        // The body is optional (no body: build every template); WithValidation checked one that came.
        var actor = Actor.From(http.User);
        var started = await service.StartAsync(release, request?.Force ?? false, request?.Templates, actor?.Name, ct);
        if (started.Build is { } build)
        {
            http.Audit().Target = build.RequestedTemplates is { } only ? $"build={build.Id}; templates={string.Join(',', only)}" : $"build={build.Id}";
            return TypedResults.Accepted($"/api/builds/{build.Id}", build);
        }

        return RefusalOf(started).ToProblem();
    }

    /// <summary>Each refused build's status, title and machine-readable <c>code</c>; the detail (and unknown templates' errors) are the service's.</summary>
    private static Refusal RefusalOf(BuildStart started)
    {
        var (status, title, code) = started.Refusal switch
        {
            BuildRefusal.ReleaseNotFound => (StatusCodes.Status404NotFound, "Release not found", (string?)null),
            BuildRefusal.UnknownTemplates => (StatusCodes.Status400BadRequest, "Unknown template", null),
            BuildRefusal.ReleaseInvalid => (StatusCodes.Status409Conflict, "Release manifest is invalid", "release-invalid"),
            BuildRefusal.ReleaseNotPinned => (StatusCodes.Status409Conflict, "Release is not pinned to a commit", "release-not-pinned"),
            BuildRefusal.TriggerNotConfigured => (StatusCodes.Status409Conflict, "Builds are not set up", "trigger-not-configured"),
            BuildRefusal.AlreadyRunning => (StatusCodes.Status409Conflict, "A build is running", "build-running"),
            _ => (StatusCodes.Status409Conflict, "Cannot rebuild the active release", "release-active"),
        };
        return new Refusal(status, title, started.Detail ?? "", started.Errors, Code(code));
    }

    private static async Task<Results<Ok<BuildCheckResult>, ProblemHttpResult>> CheckAsync(
        string release, [FromBody] CheckBuildRequest? request, BuildCheckService service, HttpContext http, CancellationToken ct)
    {
        if (request?.Templates is { } only)
        {
            http.Audit().Target = $"templates={string.Join(',', only)}";
        }

        var outcome = await service.CheckAsync(release, request?.Templates, ct);
        if (outcome.Result is { } result)
        {
            return TypedResults.Ok(result);
        }

        return RefusalOf(outcome).ToProblem();
    }

    /// <summary>Each refused check's status, title and machine-readable <c>code</c>; the detail (and unknown templates' errors) are the service's.</summary>
    private static Refusal RefusalOf(CheckOutcome outcome)
    {
        var (status, title, code) = outcome.Refusal switch
        {
            CheckRefusal.ReleaseNotFound => (StatusCodes.Status404NotFound, "Release not found", (string?)null),
            CheckRefusal.UnknownTemplates => (StatusCodes.Status400BadRequest, "Unknown template", null),
            CheckRefusal.ReleaseInvalid => (StatusCodes.Status409Conflict, "Release manifest is invalid", "release-invalid"),
            CheckRefusal.ReleaseNotPinned => (StatusCodes.Status409Conflict, "Release is not pinned to a commit", "release-not-pinned"),
            CheckRefusal.TriggerNotConfigured => (StatusCodes.Status409Conflict, "Builds are not set up", "trigger-not-configured"),
            CheckRefusal.CheckRunning => (StatusCodes.Status409Conflict, "A check is running", "check-running"),
            CheckRefusal.Unreachable => (StatusCodes.Status502BadGateway, "The host trigger is not reachable", "trigger-unreachable"),
            CheckRefusal.Refused => (StatusCodes.Status502BadGateway, "The host refused the check", "check-refused"),
            CheckRefusal.TimedOut => (StatusCodes.Status504GatewayTimeout, "The check took too long", "check-timeout"),
            _ => (StatusCodes.Status502BadGateway, "The check could not run", "check-failed"),
        };
        return new Refusal(status, title, outcome.Detail ?? "", outcome.Errors, Code(code));
    }

    private static Dictionary<string, object?>? Code(string? code) => code is null ? null : new() { ["code"] = code };

    private static async Task<Results<ServerSentEventsResult<BuildStreamMessage>, ProblemHttpResult>> EventsAsync(
        long id, BuildRepository builds, BuildLiveRegistry live, ProvisionerMetrics metrics, CancellationToken ct)
    {
        if (live.Find(id) is { } running)
        {
            return TypedResults.ServerSentEvents(metrics.Subscribed(Live(running, ct), "build", ct));
        }

        var row = await builds.FindAsync(id, ct);
        if (row is null)
        {
            return BuildNotFound(id);
        }

        return TypedResults.ServerSentEvents(Stored(BuildRepository.ToSummary(row), await builds.GetLogAsync(id, ct)));
    }

    private static async IAsyncEnumerable<SseItem<BuildStreamMessage>> Live(LiveBuild build, [EnumeratorCancellation] CancellationToken ct)
    {
        var (summary, lines, updates, ended) = build.Subscribe();
        try
        {
            yield return new SseItem<BuildStreamMessage>(new(summary, null, null), "build");
            yield return new SseItem<BuildStreamMessage>(new(null, 0, lines), "log");
            if (!ended)
            {
                await foreach (var message in updates.ReadAllAsync(ct))
                {
                    yield return new SseItem<BuildStreamMessage>(message, message.LogLines is null ? "build" : "log");
                }
            }

            yield return new SseItem<BuildStreamMessage>(new(build.Summary, null, null), "end");
        }
        finally
        {
            build.Unsubscribe(updates);
        }
    }

    private static async IAsyncEnumerable<SseItem<BuildStreamMessage>> Stored(BuildSummary summary, string log)
    {
        await Task.CompletedTask;
        var lines = log.Length == 0 ? [] : log.TrimEnd('\n').Split('\n');
        yield return new SseItem<BuildStreamMessage>(new(summary, null, null), "build");
        yield return new SseItem<BuildStreamMessage>(new(null, 0, lines), "log");
        yield return new SseItem<BuildStreamMessage>(new(summary, null, null), "end");
    }

    /// <summary>
    /// What the host wrapper fetches with the build's ticket: the plan once, the release's first-boot secret once.
    /// A check's ticket opens the plan only (once). Not part of the public API document (no integrator calls them).
    /// </summary>
    private static void MapHostEndpoints(IEndpointRouteBuilder routes)
    {
        var host = routes.MapGroup("/api/build-host")
            .AllowAnonymous()
            .DisableAntiforgery()
            .ExcludeFromDescription()
            .WithMetadata(new BuildTicketMetadata())
            .AuditReads();

        host.MapGet("/plan", async Task<Results<ContentHttpResult, ProblemHttpResult>> (
                HttpContext http, BuildRepository builds, CheckTickets checks, ReleaseCatalog catalog, IOptions<ProxmoxOptions> proxmox, TimeProvider time, CancellationToken ct) =>
            {
                var options = proxmox.Value;
                if (TicketCheck(http, checks) is { } check)
                {
                    http.Audit().Target = $"release={check.Release}; check";
                    if (catalog.Find(check.Release) is not { IsValid: true, Manifest: { } checkedManifest })
                    {
                        return ReleaseNoLongerValid(check.Release);
                    }

                    // A check plans what a build would, as build 0 (nothing is built under that number).
                    return check.UsePlan()
                        ? TypedResults.Text(BuildPlan.Render(0, checkedManifest, false, options.Storage, options.Bridge, options.TemplatePool, check.Templates), BuildPlan.ContentType)
                        : TicketUsed("plan");
                }

                if (await TicketBuildAsync(http, builds, time, ct) is not { } build)
                {
                    return NoTicket(http);
                }

                http.Audit().Target = $"release={build.Release}";
                if (catalog.Find(build.Release) is not { IsValid: true, Manifest: { } manifest })
                {
                    return ReleaseNoLongerValid(build.Release);
                }

                if (!await builds.UseTicketAsync(build.Id, TicketUse.Plan, time.GetUtcNow(), ct))
                {
                    return TicketUsed("plan");
                }

                return TypedResults.Text(
                    BuildPlan.Render(build.Id, manifest, build.Forced, options.Storage, options.Bridge, options.TemplatePool, BuildRepository.RequestedTemplates(build)),
                    BuildPlan.ContentType);
            });

        host.MapPost("/secret", async Task<Results<ContentHttpResult, ProblemHttpResult>> (
                [Description("1 when templates of an earlier build of this release are kept: they carry the current secret.")] int? reuse,
                HttpContext http, BuildRepository builds, CheckTickets checks, ReleaseRepository releases, ReleaseSecrets secrets, TimeProvider time, CancellationToken ct) =>
            {
                if (TicketCheck(http, checks) is not null)
                {
                    return new Refusal(
                        StatusCodes.Status403Forbidden,
                        "Not a build ticket",
                        "A check's ticket opens the plan only; the release secret goes to a build.").ToProblem();
                }

                if (await TicketBuildAsync(http, builds, time, ct) is not { } build)
                {
                    return NoTicket(http);
                }

                // The wrapper asks to keep the secret when it keeps templates of this release; the orchestrator also keeps
                // it when recorded templates stay outside this build's plan (a rebuild of some templates): they carry it.
                var keep = reuse == 1 || (BuildRepository.RequestedTemplates(build) is { } only
                    && (await releases.ListTemplatesAsync(build.Release, ct)).Any(t => !only.Contains(t.Name)));
                http.Audit().Target = $"release={build.Release}; reuse={(keep ? 1 : 0)}";
                if (!await builds.UseTicketAsync(build.Id, TicketUse.Secret, time.GetUtcNow(), ct))
                {
                    return TicketUsed("secret");
                }

                var secret = keep ? await secrets.GetAsync(build.Release, ct) : await secrets.IssueAsync(build.Release, ct);
                return secret is null
                    ? new Refusal(
                        StatusCodes.Status409Conflict,
                        "No release secret to keep",
                        $"Templates of {build.Release} are kept from an earlier build, but this orchestrator has no first-boot secret for the release. Rebuild them with force.").ToProblem()
                    : TypedResults.Text(secret, "text/plain");
            });
    }

    /// <summary>The running check whose ticket the request carries, or null.</summary>
    private static CheckTicket? TicketCheck(HttpContext http, CheckTickets checks)
    {
        var check = BuildTickets.FromRequest(http.Request) is { } ticket ? checks.Find(BuildTickets.Hash(ticket)) : null;
        if (check is not null)
        {
            http.Audit().ActorName = $"check of {check.Release} (ticket)";
        }

        return check;
    }

    private static ProblemHttpResult ReleaseNoLongerValid(string release) =>
        new Refusal(StatusCodes.Status409Conflict, "Release manifest is invalid", $"{release} is no longer a valid release.").ToProblem();

    private static async Task<BuildRow?> TicketBuildAsync(HttpContext http, BuildRepository builds, TimeProvider time, CancellationToken ct)
    {
        var build = BuildTickets.FromRequest(http.Request) is { } ticket ? await builds.FindByTicketAsync(BuildTickets.Hash(ticket), time.GetUtcNow(), ct) : null;
        if (build is not null)
        {
            // The audit entry's actor: the build whose ticket was shown (never the ticket).
            http.Audit().ActorName = $"build {build.Id} (ticket)";
        }

        return build;
    }

    private static ProblemHttpResult NoTicket(HttpContext http)
    {
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return new Refusal(
            StatusCodes.Status401Unauthorized,
            "Build ticket required",
            "This endpoint is for the host build wrapper and needs the running build's ticket.").ToProblem();
    }

    private static ProblemHttpResult TicketUsed(string what) => new Refusal(
        StatusCodes.Status409Conflict,
        "Ticket already used",
        $"This build's ticket was already used for its {what}; a ticket is good for one of each.").ToProblem();

    private static ProblemHttpResult BuildNotFound(long id) => new Refusal(
        StatusCodes.Status404NotFound,
        "Build not found",
        $"There is no build {id}.").ToProblem();
}
