using System.ComponentModel;
using System.Globalization;
using System.Threading.RateLimiting;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Http;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Provision;

/// <summary>The guest's report at the end of its first boot (authenticated by the instance credential, in its header).</summary>
public sealed record CompleteRequest(
    string Hostname,
    CompletionStatus Status,
    [property: Description("One line for the dealer: what went wrong, or that all is well.")] string? Message,
    [property: Description("Installed versions, app -> version.")] IReadOnlyDictionary<string, string>? Versions)
{
    // Records print every property; the versions are of no interest in a log line.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Hostname = {Hostname}, Status = {Status}, Message = {Message}");
        return true;
    }
}

/// <summary>
/// How a guest identifies itself on a provision call: its host name, and the release secret or its instance credential
/// (<see cref="CredentialRequired"/>: the call needs the credential, as complete and the broker look-up do).
/// </summary>
public sealed record GuestCall(string? Hostname, string? Secret, string? Credential, bool CredentialRequired, string? Claim = null)
{
    // Never the secret or the credential.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Hostname = {Hostname}");
        return true;
    }
}

public sealed partial class GuestCallValidator : AbstractValidator<GuestCall>
{
    public GuestCallValidator()
    {
        RuleFor(c => c.Hostname).Must(ProvisionService.IsValidHostname)
            .WithMessage("The guest's host name (a DNS label) is required.").OverridePropertyName("hostname");
        // The credential, once the guest holds one (or the call needs it); else the release secret.
        RuleFor(c => c.Credential).Must(c => !string.IsNullOrEmpty(c) && c.Length <= 256)
            .When(c => c.Credential is not null || c.CredentialRequired)
            .WithMessage($"The instance credential the assignment fetch handed out is required, in the {ProvisionApi.CredentialHeader} header.")
            .OverridePropertyName("instanceCredential");
        // The guest's own credential, sent with the release secret to claim and confirm in one fetch: 32 random bytes as hex.
        RuleFor(c => c.Claim).Must(c => c is not null && ClaimFormat().IsMatch(c))
            .When(c => c.Claim is not null)
            .WithMessage($"The {ProvisionApi.ClaimHeader} header is the guest's own instance credential: 64 lower-case hex digits.")
            .OverridePropertyName("claim");
        RuleFor(c => c.Claim).Null()
            .When(c => c.Credential is not null || c.CredentialRequired)
            .WithMessage($"The {ProvisionApi.ClaimHeader} header goes with the release secret, not with the instance credential.")
            .OverridePropertyName("claim");
        RuleFor(c => c.Secret).Must(s => !string.IsNullOrEmpty(s) && s.Length <= 256)
            .When(c => c.Credential is null && !c.CredentialRequired)
            .WithMessage($"The release's first-boot secret is required, in the {ProvisionApi.SecretHeader} header (or, once the assignment is claimed, the instance credential in the {ProvisionApi.CredentialHeader} header).")
            .OverridePropertyName("secret");
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial System.Text.RegularExpressions.Regex ClaimFormat();
}

/// <summary>The report's own fields; the guest's host name and credential are <see cref="GuestCallValidator"/>'s.</summary>
public sealed class CompleteRequestValidator : AbstractValidator<CompleteRequest>
{
    public const int MaxVersions = 32;

    public CompleteRequestValidator() =>
        RuleFor(r => r.Versions)
            .Must(v => v is null || (v.Count <= MaxVersions && v.All(e => e.Key.Length is > 0 and <= 64 && e.Value is { Length: <= 128 })))
            .WithMessage($"At most {MaxVersions} entries, names of 1–64 and versions of up to 128 characters.")
            .OverridePropertyName("versions");
}

public static class ProvisionApi
{
    /// <summary>The header guests send the release's first-boot secret in (a query parameter works too, but ends up in access logs).</summary>
    public const string SecretHeader = "X-Ctrlable-Secret";

    /// <summary>The header guests send their instance credential in: handed out by the fetch that claimed the assignment (<see cref="FirstBootClaims"/>).</summary>
    public const string CredentialHeader = "X-Ctrlable-Instance-Credential";

    /// <summary>
    /// The header a guest sends its own instance credential in, with the release secret: the fetch claims the assignment for
    /// that credential and confirms the claim at once (<see cref="FirstBootClaims.ClaimAsync"/>).
    /// </summary>
    public const string ClaimHeader = "X-Ctrlable-Claim";

    /// <summary>Rate limiter policy of the provision endpoints: <see cref="ProvisionOptions.PermitLimit"/> calls per client address and minute.</summary>
    public const string RateLimitPolicy = "provision";

    private const int MaxMessageLength = 2000;

    public static IServiceCollection AddProvision(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<ProvisionOptions>, ProvisionOptionsValidator>();
        services.AddOptions<ProvisionOptions>().BindConfiguration(ProvisionOptions.Section).ValidateOnStart();
        services.AddSingleton<ReleaseSecrets>();
        services.AddSingleton<ProjectMqttCredentials>();
        services.AddSingleton<AssignmentService>();
        services.AddSingleton<FirstBootClaims>();
        services.AddSingleton<GuestAddressCheck>();
        services.AddSingleton<AddressAllocator>();
        services.AddSingleton<SiteAddresses>();
        services.AddSingleton<ProvisionService>();
        services.AddSingleton<FirstBootEnvironments>();
        services.Configure<RateLimiterOptions>(o => o.AddPolicy(RateLimitPolicy, context => RateLimitPartition.GetFixedWindowLimiter(
            context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = context.RequestServices.GetRequiredService<IOptions<ProvisionOptions>>().Value.PermitLimit,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
            })));
        return services;
    }

    public static RouteGroupBuilder MapProvision(this IEndpointRouteBuilder routes)
    {
        // Guests on their first boot hold no account: the release's first-boot secret (first fetch) or the instance
        // credential that fetch handed out (every later call, and a zigbee2mqtt or frigate guest's broker look after its
        // first boot), and the guest's address as Proxmox reports it, authenticate them. Not browser calls, so no
        // antiforgery token.
        var group = routes.MapGroup("/api/provision")
            .WithTags("Provision")
            .AllowAnonymous()
            .DisableAntiforgery()
            .RequireRateLimiting(RateLimitPolicy)
            .WithRequestBodyLimit(RequestBodyLimits.Provision);

        // The two calls that hand out or consume secrets are audited; the broker look-up (no secret, every few minutes
        // per guest) is not, so it cannot bury them.
        group.MapGet("/assignment", GetAssignmentAsync)
            .AuditReads()
            .WithName("GetProvisionAssignment")
            .WithSummary("A guest's first-boot assignment (wiring and secrets), served while its instance waits for its first boot; the guest's state becomes personalising.")
            .WithDescription("With the release secret: the fetch claims the assignment and the answer carries `instanceCredential`; once the guest has used that credential (X-Ctrlable-Instance-Credential), the release secret alone gets 409 `claimed`. With the release secret and the guest's own credential in X-Ctrlable-Claim: the fetch claims and confirms at once (the same credential again is served; another gets 409 `claimed` once a claim is confirmed). 403 `denied` for an unknown host name, a wrong secret or a wrong credential alike, 403 `address-mismatch` when the caller's address is not the guest's, 409 `not-ready` and 503 `proxmox-unavailable` (retry, see Retry-After), 410 `consumed` after complete, 410 `no-assignment` when the orchestrator holds none for the guest (the instance fails), 429 when rate-limited.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status410Gone)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapPost("/complete", CompleteAsync)
            .AuditReads()
            .WithName("CompleteProvision")
            .WithSummary("The guest reports the end of its first boot: ok (the instance becomes active) or failed with its message; installed versions. Consumes the assignment.")
            .WithDescription("Needs the instance credential (X-Ctrlable-Instance-Credential) the assignment fetch handed out; the release secret does not complete. The same answers as the assignment; a repeat after complete is 410 `consumed`.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status410Gone)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapGet("/broker", GetBrokerAsync)
            .WithName("GetProvisionBroker")
            .WithSummary("Where a zigbee2mqtt or frigate guest's MQTT broker is reached now, for the guest's own timer after its first boot (the site's Home Assistant may have moved to another DHCP address).")
            .WithDescription("Needs the instance credential (X-Ctrlable-Instance-Credential) and an active instance; the call must come from the guest's address. The project's own broker follows its Home Assistant's address; a broker the site settings name is the assignment's. 403 `denied` / `address-mismatch`, 404 `no-broker` for other types, 409 `not-ready` (not active, or Home Assistant's address not known yet; see Retry-After), 429 when rate-limited. No secret in the answer.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return group;
    }

    private static async Task<Results<Ok<BrokerAddress>, ValidationProblem, ProblemHttpResult>> GetBrokerAsync(
        [Description("The guest's host name.")] string? hostname,
        [FromHeader(Name = CredentialHeader), Description("The instance credential the claiming assignment fetch handed out.")] string? credential,
        HttpContext context,
        ProvisionService service,
        IValidator<GuestCall> guests,
        CancellationToken ct)
    {
        if (await guests.RefuseAsync(new GuestCall(hostname, null, credential, CredentialRequired: true), ct) is { } invalid)
        {
            return invalid;
        }

        context.Audit().ActorName = hostname;
        var result = await service.GetBrokerAsync(hostname!, credential!, context.Connection.RemoteIpAddress, ct);
        return result.Outcome == ProvisionOutcome.Ok ? TypedResults.Ok(result.Broker!) : Problem(context, result);
    }

    private static async Task<Results<Ok<Assignment>, ValidationProblem, ProblemHttpResult>> GetAssignmentAsync(
        [Description("The guest's host name.")] string? hostname,
        [Description("The release's first-boot secret; prefer the X-Ctrlable-Secret header (query strings end up in access logs).")] string? secret,
        [FromHeader(Name = SecretHeader), Description("The release's first-boot secret (preferred).")] string? secretHeader,
        [FromHeader(Name = CredentialHeader), Description("The instance credential the claiming fetch handed out; once the guest has it, it replaces the release secret.")] string? credential,
        [FromHeader(Name = ClaimHeader), Description("The guest's own instance credential (64 lower-case hex digits), with the release secret: the fetch claims the assignment for it and confirms the claim at once (no credential in the answer).")] string? claim,
        HttpContext context,
        ProvisionService service,
        IValidator<GuestCall> guests,
        CancellationToken ct)
    {
        if (await guests.RefuseAsync(new GuestCall(hostname, secretHeader ?? secret, credential, CredentialRequired: false, claim), ct) is { } invalid)
        {
            return invalid;
        }

        context.Audit().ActorName = hostname;
        var result = await service.FetchAssignmentAsync(hostname!, secretHeader ?? secret, credential, claim, context.Connection.RemoteIpAddress, ct);
        return result.Outcome == ProvisionOutcome.Ok ? TypedResults.Ok(result.Assignment!) : Problem(context, result);
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> CompleteAsync(
        CompleteRequest request,
        [FromHeader(Name = CredentialHeader), Description("The instance credential the claiming assignment fetch handed out.")] string? credential,
        HttpContext context,
        ProvisionService service,
        IValidator<GuestCall> guests,
        IValidator<CompleteRequest> reports,
        CancellationToken ct)
    {
        // Who the guest is and what it reports, every field error at once.
        var checkedCall = RequestValidation.Merge(
            await guests.ValidateAsync(new GuestCall(request.Hostname, null, credential, CredentialRequired: true), ct),
            await reports.ValidateAsync(request, ct));
        if (!checkedCall.IsValid)
        {
            return checkedCall.ToProblem();
        }

        var versions = request.Versions ?? new Dictionary<string, string>();

        context.Audit().ActorName = request.Hostname;
        context.Audit().Target = $"hostname={request.Hostname}; status={request.Status.ToString().ToLowerInvariant()}";
        var message = request.Message?.ReplaceLineEndings(" ").Trim();
        var report = new CompletionReport(request.Status, message is { Length: > MaxMessageLength } ? message[..MaxMessageLength] : message, versions);
        var result = await service.CompleteAsync(request.Hostname, credential!, context.Connection.RemoteIpAddress, report, ct);
        return result.Outcome == ProvisionOutcome.Ok ? TypedResults.NoContent() : Problem(context, result);
    }

    /// <summary>A refused guest call as problem+json with its code (and Retry-After where waiting helps); the upgrade endpoints use it too.</summary>
    public static ProblemHttpResult Problem(HttpContext context, ProvisionResult result)
    {
        // Worth retrying: not yet ready, Proxmox away. A claimed assignment stays claimed.
        if (result.Outcome is ProvisionOutcome.NotReady or ProvisionOutcome.ProxmoxUnavailable)
        {
            context.Response.Headers.RetryAfter = 5.ToString(CultureInfo.InvariantCulture);
        }

        return RefusalOf(result).ToProblem();
    }

    /// <summary>Each refused outcome's status, title and machine-readable <c>code</c>; the detail is the service's.</summary>
    private static Refusal RefusalOf(ProvisionResult result)
    {
        var (status, title, code) = result.Outcome switch
        {
            ProvisionOutcome.Denied => (StatusCodes.Status403Forbidden, "Denied", "denied"),
            ProvisionOutcome.AddressMismatch => (StatusCodes.Status403Forbidden, "Not the guest's address", "address-mismatch"),
            ProvisionOutcome.NotReady => (StatusCodes.Status409Conflict, "Not ready", "not-ready"),
            ProvisionOutcome.Gone => (StatusCodes.Status410Gone, "First boot is over", "consumed"),
            ProvisionOutcome.ProxmoxUnavailable => (StatusCodes.Status503ServiceUnavailable, "Proxmox unavailable", "proxmox-unavailable"),
            ProvisionOutcome.Claimed => (StatusCodes.Status409Conflict, "Already claimed", "claimed"),
            ProvisionOutcome.NoBroker => (StatusCodes.Status404NotFound, "No broker", "no-broker"),
            // Gone for good, like a finished first boot: the script stops (exit 3) instead of retrying.
            ProvisionOutcome.NoAssignment => (StatusCodes.Status410Gone, "No assignment", "no-assignment"),
            _ => throw new ArgumentOutOfRangeException(nameof(result), result.Outcome, null),
        };
        return new Refusal(status, title, result.Detail, Extensions: new Dictionary<string, object?> { ["code"] = code });
    }
}
