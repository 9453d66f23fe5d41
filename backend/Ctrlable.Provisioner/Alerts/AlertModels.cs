using System.ComponentModel;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>Where notifications go.</summary>
public static class AlertTargetKinds
{
    public const string Webhook = "webhook";
    public const string Ntfy = "ntfy";
    public const string Smtp = "smtp";

    public static readonly IReadOnlyList<string> All = [Webhook, Ntfy, Smtp];
}

/// <summary>What an incident is about; its key is kind ':' subject.</summary>
public static class AlertKinds
{
    public const string DeployFailed = "deploy-failed";
    public const string InstanceFailed = "instance-failed";
    public const string BuildFailed = "build-failed";
    public const string GuestStopped = "guest-stopped";
    public const string AppDown = "app-down";
    public const string PlatformUnreachable = "platform-unreachable";
    public const string CertificateExpiry = "certificate-expiry";

    // Raised by the upgrade and backup features through AlertEvents (hooks; see SPEC §8g).
    public const string UpgradeFailed = "upgrade-failed";
    public const string BackupFailed = "backup-failed";
    public const string BackupMissing = "backup-missing";

    /// <summary>Several notifications a target's hourly limit held back, sent as one.</summary>
    public const string Summary = "summary";
}

public static class AlertSeverities
{
    public const string Critical = "critical";
    public const string Warning = "warning";
}

/// <param name="Url">Where the JSON is POSTed (https://…, or http:// on the LAN).</param>
/// <param name="HeaderName">A header sent with every request (e.g. Authorization); its value is a secret.</param>
public sealed record WebhookSettings(string Url, string? HeaderName = null);

/// <param name="Server">The ntfy server, e.g. https://ntfy.sh or a self-hosted one.</param>
/// <param name="Topic">The topic published to.</param>
public sealed record NtfySettings(string Server, string Topic);

/// <param name="Host">The SMTP server; the connection is upgraded with STARTTLS (required) and its certificate validated.</param>
/// <param name="Port">Usually 587 (submission).</param>
/// <param name="Username">Signs in when given (with the stored password).</param>
/// <param name="From">The sender's address.</param>
/// <param name="To">The recipients (one to twenty).</param>
/// <param name="CaCertificatePem">A private CA (PEM) the server's certificate must chain to, instead of the system's trusted roots.</param>
public sealed record SmtpSettings(string Host, int Port, string? Username, string From, IReadOnlyList<string> To, string? CaCertificatePem = null);

/// <summary>A target's secrets in a request: absent (null) keeps the stored one, "" removes it, a value replaces it.</summary>
public sealed record AlertTargetSecrets(
    [property: Description("Webhook: HMAC-SHA256 key; each request carries X-Ctrlable-Signature: sha256=<hex of the HMAC of the body>.")] string? SigningSecret = null,
    [property: Description("Webhook: the value of the header named by webhook.headerName.")] string? HeaderValue = null,
    [property: Description("ntfy: access token, sent as Authorization: Bearer.")] string? Token = null,
    [property: Description("SMTP: the password of smtp.username.")] string? Password = null);

/// <summary>Which secrets are stored (never their values).</summary>
public sealed record AlertTargetSecretsStored(bool SigningSecret, bool HeaderValue, bool Token, bool Password);

/// <summary>Create or replace a notification target: <see cref="Kind"/> says which of webhook, ntfy, smtp is given.</summary>
public sealed record AlertTargetRequest(string Name, string Kind, bool Enabled = true, WebhookSettings? Webhook = null, NtfySettings? Ntfy = null,
    SmtpSettings? Smtp = null, AlertTargetSecrets? Secrets = null);

/// <summary>A notification target as the API shows it: its settings and which secrets are stored, never a secret.</summary>
public sealed record AlertTargetView(long Id, string Name, string Kind, bool Enabled, WebhookSettings? Webhook, NtfySettings? Ntfy, SmtpSettings? Smtp,
    AlertTargetSecretsStored SecretsStored, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>What "Send test" got: whether the target took it, and its answer (HTTP status, SMTP reply) or why it failed.</summary>
public sealed record AlertTestResult(bool Delivered, string Answer);

/// <summary>An incident as the API lists it.</summary>
public sealed record AlertIncidentView(long Id, string Kind, string Subject, string Severity, string Title, string Detail, long? ProjectId, long? InstanceId,
    DateTimeOffset OpenedAt, DateTimeOffset LastSeenAt, long Events, DateTimeOffset? NotifiedAt, DateTimeOffset? ResolvedAt, string? ResolvedDetail);

/// <summary>
/// An event that opens an incident (<see cref="AlertEvents.RaiseAsync"/>): one per <see cref="Kind"/> and <see cref="Subject"/>
/// while open. <see cref="Detail"/> is shown to whoever the targets reach: never a secret.
/// </summary>
public sealed record Incident(string Kind, string Subject, string Severity, string Title, string Detail)
{
    public long? ProjectId { get; init; }
    public string? ProjectName { get; init; }
    public long? InstanceId { get; init; }
    public string? InstanceName { get; init; }

    /// <summary>The SPA page about it (e.g. /projects/3), linked when Alerts:OrchestratorUrl is set.</summary>
    public string? LinkPath { get; init; }

    public string Key => KeyOf(Kind, Subject);

    public static string KeyOf(string kind, string subject) => $"{kind}:{subject}";
}

public sealed record AlertProject(long Id, string? Name);

public sealed record AlertInstance(long Id, string? Hostname);

/// <summary>
/// One message to a target (the webhook's JSON body): <see cref="State"/> open or resolved; <see cref="Event"/> the
/// incident's kind, or "summary" for notifications the hourly limit held back (their lines in <see cref="Detail"/>).
/// </summary>
public sealed record AlertNotification(string Event, string Severity, string State, string Subject, string Title, string Detail, string Site,
    AlertProject? Project, AlertInstance? Instance, DateTimeOffset At, string? Url);

/// <summary>A target with its secrets, for a sender.</summary>
public sealed record AlertTarget(long Id, string Name, string Kind, bool Enabled, WebhookSettings? Webhook, NtfySettings? Ntfy, SmtpSettings? Smtp,
    IReadOnlyDictionary<string, string> Secrets)
{
    public string? Secret(string field) => Secrets.TryGetValue(field, out var value) ? value : null;
}

/// <summary>A sender's outcome: <see cref="Answer"/> is what the target said (or why nothing was said), never a secret.</summary>
public sealed record DeliveryAnswer(bool Delivered, string Answer);

/// <summary>Delivers one message to one kind of target.</summary>
public interface IAlertSender
{
    string Kind { get; }

    Task<DeliveryAnswer> SendAsync(AlertTarget target, AlertNotification notification, CancellationToken ct);
}
