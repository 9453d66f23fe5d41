using System.ComponentModel;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Http;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Handover;

public sealed record RevealCredentialRequest([property: Description("The signed-in admin's current password.")] string? Password)
{
    private bool PrintMembers(System.Text.StringBuilder builder) => false;
}

public sealed record RevealCredentialsRequest(
    [property: Description("The signed-in admin's current password.")] string? Password,
    [property: Description("Ids of the credentials to reveal (at most 100).")] IReadOnlyList<string>? CredentialIds)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"CredentialIds = {string.Join(", ", CredentialIds ?? [])}");
        return true;
    }
}

public sealed class RevealCredentialRequestValidator : AbstractValidator<RevealCredentialRequest>
{
    public RevealCredentialRequestValidator() => RuleFor(r => r.Password).PasswordEntered();
}

public sealed class RevealCredentialsRequestValidator : AbstractValidator<RevealCredentialsRequest>
{
    public const int MaxBatch = 100;

    public RevealCredentialsRequestValidator()
    {
        RuleFor(r => r.CredentialIds).Must(ids => (ids ?? []).Distinct(StringComparer.Ordinal).Count() is >= 1 and <= MaxBatch)
            .WithMessage($"Name 1 to {MaxBatch} credential ids.").OverridePropertyName("credentialIds");
        RuleFor(r => r.Password).PasswordEntered();
    }
}

internal static class RevealRules
{
    public static IRuleBuilderOptions<T, string?> PasswordEntered<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(p => !string.IsNullOrEmpty(p)).WithMessage("Enter your current password.").OverridePropertyName("password");
}

public sealed record RevealedCredential(string Id, [property: Description("The secret. Shown once; never logged.")] string Value)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Id = {Id}");
        return true;
    }
}

public sealed record RevealedCredentials(IReadOnlyList<RevealedCredential> Credentials);

/// <summary>
/// A project's credentials hand-over (admins only): the list without values, revealing values with the admin's password
/// (rate-limited like sign-in; each reveal audited — who, which secret, when — never the value), and rotating one.
/// </summary>
public static class CredentialsApi
{
    public static IEndpointRouteBuilder MapCredentials(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/projects/{id:long}/credentials").WithTags("Credentials").RequireRole(Role.Admin);

        group.MapGet("/", async Task<Results<Ok<ProjectCredentials>, ProblemHttpResult>> (long id, SiteCredentials credentials, CancellationToken ct) =>
                await credentials.ListAsync(id, ct) is { } list ? TypedResults.Ok(list) : NotFound($"There is no project {id}."))
            .WithName("ListCredentials")
            .WithSummary("Every secret the orchestrator generated or set for the site, per instance, with where it is used and whether it can be rotated; never a value.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/{credentialId}/reveal", RevealOneAsync)
            .RequireRateLimiting(AccessControl.SignInRateLimit)
            .WithName("RevealCredential")
            .WithSummary("Reveal one credential's value: needs the signed-in admin's current password (API tokens cannot reveal). Audited, rate-limited like sign-in.")
            .WithDescription("400 without a password or for an API token (`code` user-required); 403 `wrong-password` (counts towards the account's lockout); 404 unknown project or credential; 429 too many attempts.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapPost("/reveal", RevealManyAsync)
            .RequireRateLimiting(AccessControl.SignInRateLimit)
            .WithName("RevealCredentials")
            .WithSummary("Reveal several credentials at once (the hand-over sheet) with one password entry; one audit entry naming each.")
            .WithDescription("As RevealCredential; 404 names the first unknown credential id and reveals nothing.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapPost("/{credentialId}/rotate", RotateAsync)
            .WithName("RotateCredential")
            .WithSummary("Generate a new value, push it where the credential is used (Home Assistant, through its API) and only then store it; the old one stops working.")
            .WithDescription("409 `not-rotatable` with the reason (e.g. a Zigbee network key, which every paired device holds); 502 `rotation-failed` when Home Assistant did not take it: the old value stays in place and still works.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status502BadGateway);

        return routes;
    }

    private static async Task<Results<Ok<RevealedCredential>, ProblemHttpResult>> RevealOneAsync(
        long id, string credentialId, RevealCredentialRequest? request, HttpContext http, SiteCredentials credentials, AccountService accounts,
        IValidator<RevealCredentialRequest> validator, CancellationToken ct)
    {
        // No body is a body without a password.
        request ??= new RevealCredentialRequest(null);
        if (UserRequired(http) is { } refused)
        {
            return refused;
        }

        if (await validator.ValidateAsync(request, ct) is { IsValid: false } invalid)
        {
            return Invalid(invalid);
        }

        var result = await RevealAsync(id, [credentialId], request.Password!, http, credentials, accounts, ct);
        return result.Revealed is { } revealed ? TypedResults.Ok(revealed[0]) : result.Problem!;
    }

    private static async Task<Results<Ok<RevealedCredentials>, ProblemHttpResult>> RevealManyAsync(
        long id, RevealCredentialsRequest? request, HttpContext http, SiteCredentials credentials, AccountService accounts,
        IValidator<RevealCredentialsRequest> validator, CancellationToken ct)
    {
        request ??= new RevealCredentialsRequest(null, null);
        if (UserRequired(http) is { } refused)
        {
            return refused;
        }

        if (await validator.ValidateAsync(request, ct) is { IsValid: false } invalid)
        {
            return Invalid(invalid);
        }

        var ids = request.CredentialIds!.Distinct(StringComparer.Ordinal).ToList();
        var result = await RevealAsync(id, ids, request.Password!, http, credentials, accounts, ct);
        return result.Revealed is { } revealed ? TypedResults.Ok(new RevealedCredentials(revealed)) : result.Problem!;
    }

    private static async Task<(IReadOnlyList<RevealedCredential>? Revealed, ProblemHttpResult? Problem)> RevealAsync(
        long projectId, IReadOnlyList<string> ids, string password, HttpContext http, SiteCredentials credentials, AccountService accounts, CancellationToken ct)
    {
        var actor = Actor.From(http.User)!;
        if (!await accounts.ConfirmPasswordAsync(actor.Id, password, ct))
        {
            http.Audit().Target = "reveal refused: wrong password";
            return (null, Problem(StatusCodes.Status403Forbidden, "Wrong password", "That is not your current password (or your account is locked after too many failed attempts). Nothing was revealed.", "wrong-password"));
        }

        // The project's credentials are read once for the whole batch (each listing reads every secret of the site).
        var entries = await credentials.FindAllAsync(projectId, ct) ?? [];
        var revealed = new List<RevealedCredential>();
        var names = new List<string>();
        foreach (var credentialId in ids)
        {
            var entry = entries.FirstOrDefault(e => e.Credential.Id == credentialId);
            var value = entry is null ? null : await credentials.RevealAsync(entry, ct);
            if (entry is null || value is null)
            {
                return (null, NotFound($"Project {projectId} has no credential {credentialId}."));
            }

            revealed.Add(new RevealedCredential(credentialId, value));
            names.Add($"{credentialId} ({entry.Credential.Label}{(entry.Credential.Hostname is { } host ? $" of {host}" : "")})");
        }

        // Who and when are the audit entry's own; which secret is this note. Never the value.
        http.Audit().Target = $"revealed {string.Join(", ", names)}";
        return (revealed, null);
    }

    private static async Task<Results<Ok<SiteCredential>, ProblemHttpResult>> RotateAsync(
        long id, string credentialId, HttpContext http, SiteCredentials credentials, CredentialRotation rotation, CancellationToken ct)
    {
        var entry = await credentials.FindAsync(id, credentialId, ct);
        if (entry is null)
        {
            return NotFound($"Project {id} has no credential {credentialId}.");
        }

        var what = $"{credentialId} ({entry.Credential.Label}{(entry.Credential.Hostname is { } host ? $" of {host}" : "")})";
        if (!entry.Credential.Rotatable)
        {
            http.Audit().Target = $"not rotatable: {what}";
            return Problem(StatusCodes.Status409Conflict, "This credential cannot be rotated here", entry.Credential.NotRotatableReason ?? "", "not-rotatable");
        }

        try
        {
            await rotation.RotateAsync(entry, ct);
        }
        catch (RotationException ex)
        {
            http.Audit().Target = $"rotation failed, old value kept: {what}";
            return Problem(StatusCodes.Status502BadGateway, "Not rotated", ex.Message, "rotation-failed");
        }

        http.Audit().Target = $"rotated {what}";
        return TypedResults.Ok((await credentials.FindAsync(id, credentialId, ct))!.Credential);
    }

    /// <summary>
    /// Who asks comes before what they sent: an API token can never reveal, so it is told that, whatever its body.
    /// </summary>
    private static ProblemHttpResult? UserRequired(HttpContext http) =>
        Actor.From(http.User) is { IsUser: true }
            ? null
            : Problem(StatusCodes.Status400BadRequest, "A signed-in admin is needed", "Revealing a credential needs a signed-in admin's password; an API token cannot reveal one.", "user-required");

    /// <summary>
    /// A reveal's field errors keep the answer the page knows (title, detail and <c>code</c> of the first problem), with
    /// every field error in <c>errors</c>.
    /// </summary>
    private static ProblemHttpResult Invalid(ValidationResult invalid)
    {
        var errors = invalid.ToDictionary();
        return (errors.ContainsKey("credentialIds")
            ? new Refusal(StatusCodes.Status400BadRequest, "Choose the credentials", $"Name 1 to {RevealCredentialsRequestValidator.MaxBatch} credential ids in credentialIds.", errors.AsReadOnly())
            : new Refusal(StatusCodes.Status400BadRequest, "Enter your password", "Revealing a credential needs your current password.", errors.AsReadOnly(),
                new Dictionary<string, object?> { ["code"] = "password-required" })).ToProblem();
    }

    private static ProblemHttpResult NotFound(string detail) =>
        new Refusal(StatusCodes.Status404NotFound, "Not found", detail).ToProblem();

    private static ProblemHttpResult Problem(int status, string title, string detail, string code) =>
        new Refusal(status, title, detail, Extensions: new Dictionary<string, object?> { ["code"] = code }).ToProblem();
}

public static class HandoverRegistration
{
    public static IServiceCollection AddHandover(this IServiceCollection services)
    {
        services.AddSingleton<SiteCredentials>();
        services.AddSingleton<CredentialRotation>();
        return services;
    }
}
