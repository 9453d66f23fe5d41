using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Http;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.GuestBackups;

public sealed class RestoreBackupRequestValidator : AbstractValidator<RestoreBackupRequest>
{
    public RestoreBackupRequestValidator()
    {
        RuleFor(r => r.InstanceId).GreaterThan(0).OverridePropertyName("instanceId");
        RuleFor(r => r.Volid).NotEmpty().MaximumLength(255)
            .Matches(@"^[a-zA-Z][a-zA-Z0-9._-]*:backup/[A-Za-z0-9._-]+$").WithMessage("Name a backup volume, e.g. local:backup/vzdump-lxc-1001-2026_06_01-03_00_00.tar.zst.")
            .OverridePropertyName("volid");
    }
}

/// <summary>Per-project guest backups through Proxmox vzdump (SPEC §8h).</summary>
public static class GuestBackupsApi
{
    /// <summary>The backup and restore services, their scheduler (settings checked at start) and their tables.</summary>
    public static IServiceCollection AddGuestBackups(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<GuestBackupsOptions>, GuestBackupsOptionsValidator>();
        services.AddOptions<GuestBackupsOptions>().BindConfiguration(GuestBackupsOptions.Section).ValidateOnStart();
        services.AddSingleton<GuestBackupRepository>();
        services.AddSingleton<GuestBackupService>();
        services.AddSingleton<GuestRestoreService>();
        services.AddSingleton<GuestBackupScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<GuestBackupScheduler>());
        return services;
    }

    public static RouteGroupBuilder MapGuestBackups(this IEndpointRouteBuilder routes)
    {
        var backups = routes.MapGroup("/api/projects/{id:long}/backups").WithTags("Backups");

        backups.MapGet("/", ListAsync)
            .RequireRole(Role.Viewer).WithName("GetProjectBackups")
            .WithSummary("The project's guest backups: schedule and next slot, each guest's last backup (and whether one is missing), recent runs and restores.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        backups.MapPost("/", BackUpNowAsync)
            .RequireRole(Role.Operator).WithName("BackUpProjectNow")
            .WithSummary("Back up the project's guests now (vzdump, snapshot mode, onto the project's backup storage); runs in the background.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        backups.MapPost("/restore", RestoreAsync)
            .WithValidation<RestoreBackupRequest>()
            .RequireRole(Role.Operator).WithName("RestoreBackupAsNewGuest")
            .WithSummary("Restore one of a guest's backups into a NEW guest (new VMID, new MAC, not started); the original guest is left as it is.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status502BadGateway);

        return backups;
    }

    private static async Task<Results<Ok<ProjectBackups>, ProblemHttpResult>> ListAsync(long id, GuestBackupService service, CancellationToken ct) =>
        await service.ListAsync(id, ct) switch
        {
            ({ } list, _) => TypedResults.Ok(list),
            (_, var refusal) => refusal!.ToProblem(),
        };

    private static async Task<Results<Accepted<BackupRunView>, ProblemHttpResult>> BackUpNowAsync(long id, GuestBackupService service, HttpContext http, CancellationToken ct) =>
        await service.BackUpNowAsync(id, Actor.From(http.User)?.Name, ct) switch
        {
            ({ } run, _) => TypedResults.Accepted($"/api/projects/{id}/backups", BackupRunView.Of(run)),
            (_, var refusal) => refusal!.ToProblem(),
        };

    private static async Task<Results<Accepted<GuestRestoreView>, ProblemHttpResult>> RestoreAsync(long id, RestoreBackupRequest request, GuestRestoreService service, HttpContext http, CancellationToken ct)
    {
        try
        {
            return await service.RestoreAsync(id, request.InstanceId, request.Volid, Actor.From(http.User)?.Name, ct) switch
            {
                ({ } restore, _) => TypedResults.Accepted($"/api/projects/{id}/backups", GuestRestoreView.Of(restore)),
                (_, var refusal) => refusal!.ToProblem(),
            };
        }
        catch (Proxmox.ProxmoxException ex)
        {
            return new Refusal(502, "Proxmox failed", $"The backups could not be listed: {ex.ProxmoxMessage.Trim()}").ToProblem();
        }
    }
}
