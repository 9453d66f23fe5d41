namespace Ctrlable.Provisioner.Config;

/// <summary>Where the orchestrator keeps its state and finds its release manifests.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>Directory for the SQLite database, keys and certificates. Relative paths are taken from the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Directory holding <c>releases/*.yaml</c>. Empty = the first <c>releases</c> folder found at or above the content root.</summary>
    public string ReleasesDirectory { get; set; } = "";
}

/// <summary>The Proxmox VE host. No <see cref="Url"/> = the simulated host.</summary>
public sealed class ProxmoxOptions
{
    public const string Section = "Proxmox";

    /// <summary>e.g. https://192.168.1.10:8006 — empty means no real host is configured.</summary>
    public string Url { get; set; } = "";

    /// <summary>API token id, <c>user@realm!tokenname</c>.</summary>
    public string TokenId { get; set; } = "";

    /// <summary>The token's secret (a UUID). Never logged.</summary>
    public string TokenSecret { get; set; } = "";

    /// <summary>SHA-256 fingerprint of the node's certificate, colon-separated hex as Proxmox shows it.</summary>
    public string CertificateFingerprint { get; set; } = "";

    public string Node { get; set; } = "";
    public string Storage { get; set; } = "local-lvm";
    public string Bridge { get; set; } = "vmbr0";

    /// <summary>Proxmox pool that holds every guest the orchestrator creates; the token's write rights are granted on it.</summary>
    public string Pool { get; set; } = "ctrlable";

    /// <summary>Proxmox pool of the release templates (the token may clone from it); builds put each template there.</summary>
    public string TemplatePool { get; set; } = "ctrlable-templates";

    /// <summary>Timeout of one HTTP attempt against the Proxmox API.</summary>
    public double AttemptTimeoutSeconds { get; set; } = 20;

    /// <summary>Timeout of one call including its retries.</summary>
    public double TotalTimeoutSeconds { get; set; } = 90;

    public bool IsConfigured => Url.Length > 0;
}

/// <summary>The restricted SSH trigger on the Proxmox host that runs release builds.</summary>
public sealed class HostTriggerOptions
{
    public const string Section = "HostTrigger";

    public string Host { get; set; } = "";
    public int Port { get; set; } = 22;
    public string User { get; set; } = "root";

    /// <summary>Path of the dedicated build key (private key file).</summary>
    public string KeyPath { get; set; } = "";

    /// <summary>SHA-256 host key fingerprint, as <c>ssh-keygen -lf</c> prints it (with or without the <c>SHA256:</c> prefix).</summary>
    public string HostKeyFingerprint { get; set; } = "";

    /// <summary>
    /// The Proxmox node the build trigger runs on: the templates are built there, onto its storage (install.sh writes the
    /// node it ran on, which on a cluster member is the node holding the template storage, or any node when it is shared).
    /// </summary>
    public string Node { get; set; } = "";

    /// <summary>
    /// Longest the orchestrator follows a build (and the longest its ticket lives): then the build is failed. The orchestrator
    /// cannot stop the run on the host (sshd sends no signal to a forced command); it ends by itself, holding the host's lock.
    /// </summary>
    public int BuildTimeoutMinutes { get; set; } = 240;

    public bool IsConfigured => Host.Length > 0;
}

/// <summary>
/// The central Ctrlable management platform. No <see cref="Url"/> = not connected. The site id and token come from
/// enrolment (an admin enters a one-time code) and are kept in the database, the token encrypted — never here.
/// </summary>
public sealed class PlatformOptions
{
    public const string Section = "Platform";

    /// <summary>Base URL of the platform's site API (docs/platform-api.yaml), e.g. https://platform.ctrlable.example/api.</summary>
    public string Url { get; set; } = "";

    /// <summary>A report is sent at least this often, also when nothing changed.</summary>
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Each heartbeat comes up to this much later, at random, so sites do not report in lock-step.</summary>
    public TimeSpan HeartbeatJitter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The first report after a start waits up to this much, at random: after a fleet-wide update or a power cut many
    /// sites start together. An enrolment does not wait.
    /// </summary>
    public TimeSpan StartupJitter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the sender looks for recorded changes; changes within one interval go out as one report.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>First retry delay after a failed report; it doubles with each further failure (with jitter).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest delay between retries, however long the platform stays unreachable.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Timeout of one call to the platform.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public bool IsConfigured => Url.Length > 0;
}

/// <summary>Dealer sign-in: sessions, lockout, sign-in rate.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Consecutive failed sign-ins that lock an account.</summary>
    public int LockoutThreshold { get; set; } = 5;

    /// <summary>How long a locked account stays locked.</summary>
    public int LockoutMinutes { get; set; } = 15;

    /// <summary>Idle lifetime of a sign-in session (sliding).</summary>
    public int SessionHours { get; set; } = 12;

    /// <summary>Sign-in and setup attempts allowed per client address and minute.</summary>
    public int SignInPermitLimit { get; set; } = 10;

    /// <summary>How long audit log entries are kept; older ones are deleted once a day.</summary>
    public int AuditRetentionDays { get; set; } = 365;

    /// <summary>OWASP's figure for PBKDF2-HMAC-SHA256 (2023): the floor in production.</summary>
    public const int MinPasswordHashIterations = 600_000;

    /// <summary>PBKDF2-HMAC-SHA256 iterations of new password hashes; older hashes are redone at the next sign-in.</summary>
    public int PasswordHashIterations { get; set; } = MinPasswordHashIterations;

    /// <summary>
    /// Lets <see cref="PasswordHashIterations"/> go below <see cref="MinPasswordHashIterations"/>. For test suites that
    /// create hundreds of accounts; never on a real installation.
    /// </summary>
    public bool TestingOnlyAllowWeakPasswordHashing { get; set; }
}

/// <summary>HTTPS: the certificate Kestrel serves, and whether plain HTTP may leave loopback.</summary>
public sealed class TlsOptions
{
    public const string Section = "Tls";

    /// <summary>A PKCS#12 (.pfx/.p12) or PEM certificate to serve. Empty = one generated on first start into <c>&lt;data&gt;/tls/</c>.</summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>Password of the PKCS#12 file or of an encrypted PEM key. Never logged.</summary>
    public string CertificatePassword { get; set; } = "";

    /// <summary>Private key of a PEM certificate; empty = the key is in the certificate file.</summary>
    public string CertificateKeyPath { get; set; } = "";

    /// <summary>Allow http:// listen URLs on addresses other than loopback (credentials then cross the network in clear).</summary>
    public bool AllowInsecureHttp { get; set; }
}
