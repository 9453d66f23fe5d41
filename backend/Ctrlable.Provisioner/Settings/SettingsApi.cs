using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Hosting;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Settings;

public static class SettingsApi
{
    /// <summary>What an admin saves here: the Proxmox host and token (the chosen host is used at start), the build key's passphrase.</summary>
    public static IServiceCollection AddSettings(this IServiceCollection services)
    {
        services.AddSingleton<ProxmoxSettingsRepository>();
        services.AddSingleton<ProxmoxSettingsService>();
        services.AddSingleton<BuildKeySettings>();
        return services;
    }

    public static RouteGroupBuilder MapSettings(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/settings").WithTags("Settings").RequireRole(Role.Admin);

        group.MapGet("/proxmox", async Task<Ok<ProxmoxSettingsView>> (ProxmoxSettingsService settings, CancellationToken ct) =>
                TypedResults.Ok(await settings.GetAsync(ct)))
            .WithName("GetProxmoxSettings")
            .WithSummary("The Proxmox host and API token in use, and where they come from; the token secret is never returned.");

        group.MapPut("/proxmox", async Task<Results<Ok<ProxmoxSettingsView>, ValidationProblem, ProblemHttpResult>> (
                SaveProxmoxSettingsRequest request, ProxmoxSettingsService settings, HttpContext http, CancellationToken ct) =>
            {
                try
                {
                    var actor = Actor.From(http.User)?.Name ?? "unknown";
                    return TypedResults.Ok(await settings.SaveAsync(request, actor, ct));
                }
                catch (ProxmoxSecretRequiredException ex)
                {
                    return TypedResults.ValidationProblem(
                        new Dictionary<string, string[]> { ["tokenSecret"] = [ex.Message] },
                        title: "Proxmox settings not saved");
                }
                catch (ProxmoxSettingsException ex)
                {
                    return TypedResults.Problem(title: "Proxmox settings not saved", detail: ex.Message, statusCode: StatusCodes.Status422UnprocessableEntity);
                }
            })
            .WithValidation<SaveProxmoxSettingsRequest>()
            .WithName("SaveProxmoxSettings")
            .WithSummary("Try a Proxmox host and API token (version, privileges on the product's pool), then store them (the secret encrypted) and use them from the next call on.")
            .WithDescription("An empty tokenSecret keeps the stored one only for the host, token id and certificate fingerprint in use; a change to any of them without the secret is a 400 naming TokenSecret, and nothing is sent anywhere.")
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapGet("/build-key", async Task<Ok<BuildKeyView>> (BuildKeySettings buildKey, CancellationToken ct) =>
                TypedResults.Ok(await buildKey.GetAsync(ct)))
            .WithName("GetBuildKeySettings")
            .WithSummary("The host trigger's build key: target, key path, pinned host key, and whether a passphrase is stored (never the passphrase).");

        group.MapPut("/build-key/passphrase", async Task<Results<Ok<BuildKeyView>, ProblemHttpResult>> (
                SetBuildKeyPassphraseRequest request, BuildKeySettings buildKey, HttpContext http, CancellationToken ct) =>
            {
                try
                {
                    return TypedResults.Ok(await buildKey.SetPassphraseAsync(request.Passphrase, Actor.From(http.User)?.Name ?? "unknown", ct));
                }
                catch (BuildKeyException ex)
                {
                    return TypedResults.Problem(title: "Passphrase not stored", detail: ex.Message, statusCode: StatusCodes.Status422UnprocessableEntity);
                }
            })
            .WithValidation<SetBuildKeyPassphraseRequest>()
            .WithName("SetBuildKeyPassphrase")
            .WithSummary("Store the build key's passphrase encrypted, once it opens the key.")
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        group.MapDelete("/build-key/passphrase", async Task<Results<NoContent, NotFound>> (BuildKeySettings buildKey, HttpContext http, CancellationToken ct) =>
                await buildKey.ClearPassphraseAsync(Actor.From(http.User)?.Name ?? "unknown", ct) ? TypedResults.NoContent() : TypedResults.NotFound())
            .WithName("ClearBuildKeyPassphrase")
            .WithSummary("Forget the build key's passphrase (for a key without one).");

        return group;
    }
}

public sealed class SetBuildKeyPassphraseValidator : AbstractValidator<SetBuildKeyPassphraseRequest>
{
    public SetBuildKeyPassphraseValidator() => RuleFor(r => r.Passphrase).NotEmpty().MaximumLength(1024);
}

public sealed class SaveProxmoxSettingsValidator : AbstractValidator<SaveProxmoxSettingsRequest>
{
    public SaveProxmoxSettingsValidator()
    {
        RuleFor(r => r.Url).Must(url => Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttps && u.Host.Length > 0)
            .WithMessage("Enter the host's https:// address, e.g. https://192.168.1.10:8006.");
        RuleFor(r => r.TokenId).Must(ConfigValidator.IsTokenId)
            .WithMessage("A token id looks like user@realm!tokenname, e.g. ctrlable@pve!provisioner.");
        RuleFor(r => r.CertificateFingerprint).Must(f => ConfigValidator.IsCertificateFingerprint(f.Trim()))
            .WithMessage("Enter the node certificate's SHA-256 fingerprint: 32 colon-separated hex bytes, as shown under Node > System > Certificates.");
        RuleFor(r => r.TokenSecret).MaximumLength(200);
    }
}
