using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Config;

public static class ConfigRegistration
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to <paramref name="section"/> (appsettings.json, CTRLABLE_* variables) and
    /// checks it with <see cref="ConfigValidator"/> at start; each feature calls this for the settings it owns.
    /// </summary>
    public static IServiceCollection AddConfigOptions<TOptions>(this IServiceCollection services, string section)
        where TOptions : class
    {
        services.TryAddSingleton<ConfigValidator>();
        services.AddSingleton(sp => sp.GetRequiredService<ConfigValidator>() as IValidateOptions<TOptions>
            ?? throw new InvalidOperationException($"{nameof(ConfigValidator)} does not check {typeof(TOptions).Name}."));
        // Generic, so the binding generator cannot see the type (SYSLIB1104, off in the csproj): the reflection binder,
        // over the app's own options types (the trimmed bundle keeps the app whole). Every other Bind/Get is generated.
        services.AddOptions<TOptions>().BindConfiguration(section).ValidateOnStart();
        return services;
    }
}

/// <summary>Start-up checks of the configuration; each failure is one line naming the setting.</summary>
public sealed partial class ConfigValidator :
    IValidateOptions<StorageOptions>,
    IValidateOptions<ProxmoxOptions>,
    IValidateOptions<HostTriggerOptions>,
    IValidateOptions<PlatformOptions>,
    IValidateOptions<AuthOptions>,
    IValidateOptions<TlsOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            errors.Add("Storage:DataDirectory must not be empty.");
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, ProxmoxOptions options)
    {
        var errors = new List<string>();
        if (options.AttemptTimeoutSeconds <= 0 || options.TotalTimeoutSeconds < options.AttemptTimeoutSeconds)
        {
            errors.Add("Proxmox:AttemptTimeoutSeconds must be positive and not above Proxmox:TotalTimeoutSeconds.");
        }

        if (!options.IsConfigured)
        {
            return Result(errors);
        }

        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps)
        {
            errors.Add($"Proxmox:Url must be an https:// URL such as https://192.168.1.10:8006 (got '{options.Url}').");
        }

        if (!TokenId().IsMatch(options.TokenId))
        {
            errors.Add("Proxmox:TokenId must look like user@realm!tokenname, e.g. ctrlable@pve!provisioner.");
        }

        if (!Fingerprint().IsMatch(options.CertificateFingerprint))
        {
            errors.Add("Proxmox:CertificateFingerprint must be the node certificate's SHA-256 fingerprint (32 colon-separated hex bytes, as shown under Node > System > Certificates).");
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, HostTriggerOptions options)
    {
        var errors = new List<string>();
        if (options.BuildTimeoutMinutes is < 5 or > 1440)
        {
            errors.Add($"HostTrigger:BuildTimeoutMinutes must be between 5 and 1440 (got {options.BuildTimeoutMinutes}).");
        }

        if (!options.IsConfigured)
        {
            return Result(errors);
        }

        if (options.Port is < 1 or > 65535)
        {
            errors.Add($"HostTrigger:Port must be between 1 and 65535 (got {options.Port}).");
        }

        if (string.IsNullOrWhiteSpace(options.User))
        {
            errors.Add("HostTrigger:User is required when HostTrigger:Host is set.");
        }

        if (string.IsNullOrWhiteSpace(options.KeyPath))
        {
            errors.Add("HostTrigger:KeyPath is required when HostTrigger:Host is set.");
        }

        if (!SshFingerprint().IsMatch(options.HostKeyFingerprint))
        {
            errors.Add("HostTrigger:HostKeyFingerprint must be the host key's SHA-256 fingerprint as ssh-keygen -lf prints it (SHA256:...).");
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, PlatformOptions options)
    {
        var errors = new List<string>();
        Positive(errors, "Platform:Heartbeat", options.Heartbeat);
        Positive(errors, "Platform:PollInterval", options.PollInterval);
        Positive(errors, "Platform:RetryBaseDelay", options.RetryBaseDelay);
        Positive(errors, "Platform:AttemptTimeout", options.AttemptTimeout);
        if (options.HeartbeatJitter < TimeSpan.Zero)
        {
            errors.Add($"Platform:HeartbeatJitter must not be negative (got {options.HeartbeatJitter}).");
        }

        if (options.StartupJitter < TimeSpan.Zero)
        {
            errors.Add($"Platform:StartupJitter must not be negative (got {options.StartupJitter}).");
        }

        if (options.RetryMaxDelay < options.RetryBaseDelay)
        {
            errors.Add($"Platform:RetryMaxDelay must not be below Platform:RetryBaseDelay (got {options.RetryMaxDelay}).");
        }

        // The site token travels in clear over http://, so only loopback (tests, a local tunnel) may use it.
        if (options.IsConfigured && (!Uri.TryCreate(options.Url, UriKind.Absolute, out var url)
            || !(url.Scheme == Uri.UriSchemeHttps || (url.Scheme == Uri.UriSchemeHttp && url.IsLoopback))))
        {
            errors.Add($"Platform:Url must be an https:// URL such as https://platform.ctrlable.example/api (got '{options.Url}').");
        }

        return Result(errors);
    }

    private static void Positive(List<string> errors, string setting, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{setting} must be a positive duration such as 00:00:30 (got {value}).");
        }
    }

    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var errors = new List<string>();
        if (options.LockoutThreshold is < 1 or > 100)
        {
            errors.Add($"Auth:LockoutThreshold must be between 1 and 100 (got {options.LockoutThreshold}).");
        }

        if (options.LockoutMinutes is < 1 or > 1440)
        {
            errors.Add($"Auth:LockoutMinutes must be between 1 and 1440 (got {options.LockoutMinutes}).");
        }

        if (options.SessionHours is < 1 or > 720)
        {
            errors.Add($"Auth:SessionHours must be between 1 and 720 (got {options.SessionHours}).");
        }

        if (options.SignInPermitLimit is < 1 or > 100000)
        {
            errors.Add($"Auth:SignInPermitLimit must be between 1 and 100000 (got {options.SignInPermitLimit}).");
        }

        if (options.AuditRetentionDays is < 1 or > 3650)
        {
            errors.Add($"Auth:AuditRetentionDays must be between 1 and 3650 (got {options.AuditRetentionDays}).");
        }

        if (options.PasswordHashIterations is < 1 or > 10_000_000)
        {
            errors.Add($"Auth:PasswordHashIterations must be between {AuthOptions.MinPasswordHashIterations} and 10000000 (got {options.PasswordHashIterations}).");
        }
        else if (options.PasswordHashIterations < AuthOptions.MinPasswordHashIterations && !options.TestingOnlyAllowWeakPasswordHashing)
        {
            errors.Add($"Auth:PasswordHashIterations must be at least {AuthOptions.MinPasswordHashIterations}, OWASP's figure for PBKDF2-HMAC-SHA256 (got {options.PasswordHashIterations}).");
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, TlsOptions options)
    {
        var errors = new List<string>();
        if (options.CertificatePath.Length > 0 && !File.Exists(options.CertificatePath))
        {
            errors.Add($"Tls:CertificatePath: no such file '{options.CertificatePath}'.");
        }

        if (options.CertificateKeyPath.Length > 0 && !File.Exists(options.CertificateKeyPath))
        {
            errors.Add($"Tls:CertificateKeyPath: no such file '{options.CertificateKeyPath}'.");
        }

        if (options.CertificateKeyPath.Length > 0 && options.CertificatePath.Length == 0)
        {
            errors.Add("Tls:CertificateKeyPath needs Tls:CertificatePath.");
        }

        return Result(errors);
    }

    /// <summary>A Proxmox API token id, <c>user@realm!tokenname</c>.</summary>
    public static bool IsTokenId(string value) => TokenId().IsMatch(value);

    /// <summary>A certificate's SHA-256 fingerprint as Proxmox shows it: 32 colon-separated hex bytes.</summary>
    public static bool IsCertificateFingerprint(string value) => Fingerprint().IsMatch(value);

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);

    [GeneratedRegex(@"^[^@!\s]+@[A-Za-z0-9._-]+![A-Za-z][A-Za-z0-9._-]*$")]
    private static partial Regex TokenId();

    [GeneratedRegex(@"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$")]
    private static partial Regex Fingerprint();

    [GeneratedRegex(@"^(SHA256:)?[A-Za-z0-9+/]{43}=?$")]
    private static partial Regex SshFingerprint();
}
