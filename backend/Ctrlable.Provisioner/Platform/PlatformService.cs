using System.ComponentModel;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Secrets;
using FluentValidation;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Platform;

/// <summary>Where the site stands with the platform, as the SPA shows it.</summary>
public enum PlatformConnection
{
    /// <summary>No Platform:Url: this orchestrator reports to no platform.</summary>
    NotConfigured,

    /// <summary>A platform is configured but this site has not been enrolled.</summary>
    NotEnrolled,

    /// <summary>Enrolled; the first report has not been delivered yet.</summary>
    Enrolled,

    /// <summary>The last report was delivered.</summary>
    Connected,

    /// <summary>The last attempt failed; retrying with back-off.</summary>
    Retrying,

    /// <summary>The platform refused the site token (401/403); nothing is sent until an admin re-enrols.</summary>
    TokenRejected,
}

public sealed record PlatformStatus(
    PlatformConnection Connection,
    [property: Description("The configured platform (Platform:Url); null when none is configured.")] string? PlatformUrl,
    string? SiteId,
    DateTimeOffset? EnrolledAt,
    [property: Description("When the platform last accepted a report.")] DateTimeOffset? LastReportAt,
    [property: Description("Sequence number of the last report sent; it only ever increases.")] long LastSequence,
    [property: Description("Changes recorded since the last delivered report (they go out together in the next one).")] long PendingChanges,
    DateTimeOffset? LastAttemptAt,
    [property: Description("Why the last attempt failed; null after a success.")] string? LastError,
    DateTimeOffset? LastErrorAt,
    DateTimeOffset? NextAttemptAt,
    long ConsecutiveFailures);

public sealed record EnrolRequest([property: Description("The one-time enrolment code from the platform.")] string? Code);

public sealed partial class EnrolRequestValidator : AbstractValidator<EnrolRequest>
{
    public EnrolRequestValidator()
    {
        RuleFor(r => r.Code).Cascade(CascadeMode.Stop)
            .NotEmpty().WithMessage("Enter the enrolment code from the platform.")
            .Must(c => Code().IsMatch(c!.Trim())).WithMessage("An enrolment code is 6-64 letters, digits and dashes.")
            .OverridePropertyName("code");
    }

    [GeneratedRegex("^[A-Za-z0-9-]{6,64}$")]
    private static partial Regex Code();
}

/// <summary>Status, enrolment and disconnection, for the endpoints.</summary>
public sealed class PlatformService(
    PlatformRepository repository,
    PlatformClient client,
    PlatformReporter reporter,
    SecretStore secrets,
    IOptions<PlatformOptions> options,
    TimeProvider time,
    ILogger<PlatformService> logger)
{
    public async Task<PlatformStatus> GetStatusAsync(CancellationToken ct)
    {
        var settings = options.Value;
        var row = await repository.GetAsync(ct);
        var connection = !settings.IsConfigured ? PlatformConnection.NotConfigured
            : !row.IsEnrolled ? PlatformConnection.NotEnrolled
            : row.TokenRejected ? PlatformConnection.TokenRejected
            : row.Failures > 0 ? PlatformConnection.Retrying
            : row.LastSuccessAt is null ? PlatformConnection.Enrolled
            : PlatformConnection.Connected;
        return new PlatformStatus(
            connection,
            settings.IsConfigured ? settings.Url : null,
            row.SiteId,
            row.EnrolledAt,
            row.LastSuccessAt,
            row.LastSequence,
            row.PendingChanges,
            row.LastAttemptAt,
            row.LastError,
            row.LastErrorAt,
            row.TokenRejected ? null : row.NextAttemptAt,
            row.Failures);
    }

    /// <summary>Exchanges the code for a site id and token; <paramref name="replace"/> allows replacing an existing enrolment.</summary>
    public async Task<Refusal?> EnrolAsync(string code, bool replace, CancellationToken ct)
    {
        var settings = options.Value;
        if (!settings.IsConfigured)
        {
            return new Refusal(StatusCodes.Status409Conflict, "No platform configured",
                "This orchestrator is not connected to a platform: set Platform:Url (CTRLABLE_PLATFORM__URL) and restart.");
        }

        var current = await repository.GetAsync(ct);
        if (current.IsEnrolled && !replace)
        {
            return new Refusal(StatusCodes.Status409Conflict, "Already enrolled",
                $"This site is enrolled as {current.SiteId}; re-enrol (PUT) to replace the enrolment.");
        }

        var result = await client.EnrolAsync(new EnrolmentRequest(code.Trim(), PlatformJson.OrchestratorVersion, Environment.MachineName), ct);
        switch (result.Outcome)
        {
            case EnrolmentOutcome.CodeRefused:
                return new Refusal(StatusCodes.Status422UnprocessableEntity, "Enrolment code refused", result.Error ?? "The platform refused the code.");
            case EnrolmentOutcome.Unreachable:
                return new Refusal(StatusCodes.Status502BadGateway, "Platform unreachable", result.Error ?? "The platform could not be reached.");
        }

        var enrolment = result.Enrolment!;
        await secrets.SetAsync(SecretKind.PlatformToken, PlatformReporter.TokenSecretName, enrolment.SiteToken, ct);
        await repository.SaveEnrolmentAsync(enrolment.SiteId, settings.Url, time.GetUtcNow(), ct);
        logger.LogInformation("Site enrolled with the platform as {SiteId}", enrolment.SiteId);
        reporter.Wake();
        return null;
    }

    /// <summary>
    /// Tells the platform the site leaves (once, best effort), then forgets the site id, token and waiting changes here
    /// whatever it answered; when it could not be told, the status says so.
    /// </summary>
    public async Task DisconnectAsync(CancellationToken ct)
    {
        var current = await repository.GetAsync(ct);
        string? note = null;
        if (current is { IsEnrolled: true, SiteId: { } siteId } && options.Value.IsConfigured
            && await reporter.TokenAsync(ct) is { } token
            && await client.LeaveAsync(siteId, token, ct) is { } problem)
        {
            note = $"Disconnected here, but the platform could not be told ({problem}): it lists site {siteId} until a platform user removes it.";
        }

        await repository.ClearEnrolmentAsync(note, time.GetUtcNow(), ct);
        await secrets.DeleteAsync(SecretKind.PlatformToken, PlatformReporter.TokenSecretName, ct);
        if (current.IsEnrolled)
        {
            logger.LogInformation("Site {SiteId} disconnected from the platform (platform told: {Told})", current.SiteId, note is null);
        }
    }
}
