using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Secrets;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Settings;

/// <summary>Where the connection in use came from.</summary>
public enum ProxmoxSource
{
    Simulated,
    Configuration,
    Settings,
}

/// <summary>The Proxmox connection as an admin sees it: never the token secret, only whether one is stored.</summary>
public sealed record ProxmoxSettingsView(
    ProxmoxSource Source,
    string Url,
    string TokenId,
    string CertificateFingerprint,
    bool TokenSecretStored,
    DateTimeOffset? UpdatedAt,
    string? UpdatedBy);

/// <summary>
/// New Proxmox settings. An empty <c>TokenSecret</c> keeps the stored secret, but only for the host, token id and
/// certificate in use: a change to any of them needs the secret entered again (the form never shows it).
/// </summary>
public sealed record SaveProxmoxSettingsRequest(string Url, string TokenId, string? TokenSecret, string CertificateFingerprint);

/// <summary>Why new Proxmox settings were not saved, in words for the admin who entered them.</summary>
public class ProxmoxSettingsException(string message) : Exception(message);

/// <summary>A changed host, token id or certificate came without the token secret: the stored one is not sent there.</summary>
public sealed class ProxmoxSecretRequiredException()
    : ProxmoxSettingsException("Enter the token secret: a changed host address, token id or certificate fingerprint needs it again (the stored secret is only ever sent to the host it was saved for).");

/// <summary>
/// The Proxmox host and API token the orchestrator uses. An admin's saved settings win over the Proxmox:* configuration;
/// the token secret is kept only encrypted in the secret store (a secret found in the configuration is moved there at
/// start). New settings are tried against the host before they are saved and then used by every later call.
/// </summary>
public sealed class ProxmoxSettingsService(
    ProxmoxSettingsRepository repository,
    SecretStore secrets,
    ProxmoxConnections connections,
    IOptions<ProxmoxOptions> options,
    TimeProvider time,
    ILogger<ProxmoxSettingsService> logger)
{
    private const string SecretName = "default";

    /// <summary>The privileges the product cannot work without on its guest pool (the rest fail with Proxmox's own message).</summary>
    private static readonly string[] RequiredOnPool = ["VM.Allocate", "VM.Audit", "VM.PowerMgmt"];

    /// <summary>
    /// At start: uses the saved settings, else the configured host. False when neither names a host (demo mode).
    /// Throws <see cref="ProxmoxSettingsException"/> when a host is configured but no token secret is stored.
    /// </summary>
    public async Task<bool> UseSavedOrConfiguredAsync(CancellationToken ct)
    {
        var configured = options.Value;
        var saved = await repository.GetAsync(ct);
        if (saved is null && configured.TokenSecret.Length > 0)
        {
            // Installers hand the secret over once; from here on it lives encrypted, not in a settings file.
            await secrets.SetAsync(SecretKind.ProxmoxTokenSecret, SecretName, configured.TokenSecret, ct);
            logger.LogWarning("Proxmox:TokenSecret from the configuration is now stored encrypted in the data directory; remove it from the configuration");
        }

        if (saved is null && !configured.IsConfigured)
        {
            return false;
        }

        var secret = await secrets.GetAsync(SecretKind.ProxmoxTokenSecret, SecretName, ct)
            ?? throw new ProxmoxSettingsException(
                $"Proxmox:Url is set but no token secret is stored: run the orchestrator once with --{SetTokenSecretCommand.Switch} (secret on standard input), or set Proxmox:TokenSecret for one start.");
        connections.Use(saved is null
            ? new ProxmoxConnection(new Uri(configured.Url), configured.TokenId, secret, configured.CertificateFingerprint, simulated: false)
            : new ProxmoxConnection(new Uri(saved.Url), saved.TokenId, secret, saved.CertificateFingerprint, simulated: false));
        return true;
    }

    public async Task<ProxmoxSettingsView> GetAsync(CancellationToken ct)
    {
        var current = connections.Current;
        var saved = await repository.GetAsync(ct);
        var source = current.Simulated ? ProxmoxSource.Simulated : saved is null ? ProxmoxSource.Configuration : ProxmoxSource.Settings;
        var stored = !current.Simulated && await secrets.GetAsync(SecretKind.ProxmoxTokenSecret, SecretName, ct) is not null;
        return new ProxmoxSettingsView(source, OriginOf(current.BaseUrl), current.TokenId, current.CertificateFingerprint, stored,
            source == ProxmoxSource.Settings ? saved!.UpdatedAt : null, source == ProxmoxSource.Settings ? saved!.UpdatedBy : null);
    }

    /// <summary>Tries the settings against the host (version, privileges on the pool), then saves and uses them.</summary>
    public async Task<ProxmoxSettingsView> SaveAsync(SaveProxmoxSettingsRequest request, string actor, CancellationToken ct)
    {
        var fingerprint = ProxmoxConnection.NormaliseFingerprint(request.CertificateFingerprint);
        var current = connections.Current;
        // Whoever holds an admin session must not be able to send the stored secret to a host of their choosing:
        // without the secret, only the host, token and certificate in use may be tried again.
        var sameTarget = !current.Simulated
            && OriginOf(new Uri(request.Url)) == OriginOf(current.BaseUrl)
            && request.TokenId == current.TokenId
            && fingerprint == current.CertificateFingerprint;
        var secret = request.TokenSecret is { Length: > 0 } entered
            ? entered
            : !sameTarget
                ? throw new ProxmoxSecretRequiredException()
                : await secrets.GetAsync(SecretKind.ProxmoxTokenSecret, SecretName, ct)
                    ?? throw new ProxmoxSettingsException("Enter the token secret: none is stored yet.");
        var candidate = new ProxmoxConnection(new Uri(request.Url), request.TokenId, secret, fingerprint, simulated: false);
        await TryAsync(candidate, ct);

        var row = new ProxmoxSettingsRow(OriginOf(candidate.BaseUrl), request.TokenId, fingerprint, time.GetUtcNow(), actor);
        await secrets.SetAsync(SecretKind.ProxmoxTokenSecret, SecretName, secret, ct);
        await repository.SaveAsync(row, ct);
        connections.Use(candidate);
        logger.LogInformation("Proxmox connection set to {Url} as {TokenId} by {Actor}", row.Url, row.TokenId, actor);
        return await GetAsync(ct);
    }

    private async Task TryAsync(ProxmoxConnection candidate, CancellationToken ct)
    {
        var pool = options.Value.Pool;
        using var probe = ProxmoxHttp.CreateProxmoxProbe(candidate, options.Value);
        try
        {
            await probe.Client.GetVersionAsync(ct);
            var privileges = await probe.Client.GetPermissionsAsync($"/pool/{pool}", ct);
            if (RequiredOnPool.Where(p => !privileges.Contains(p)).ToList() is { Count: > 0 } missing)
            {
                throw new ProxmoxSettingsException(
                    $"Token {candidate.TokenId} lacks {string.Join(", ", missing)} on /pool/{pool}: grant the Ctrlable role on the pool (install.sh does) to the user and the token.");
            }
        }
        catch (ProxmoxCertificateException ex)
        {
            throw new ProxmoxSettingsException($"The host presented certificate {ex.Presented}, not the fingerprint entered. Compare with Node > System > Certificates.");
        }
        catch (ProxmoxException ex) when (ex.Status == System.Net.HttpStatusCode.Unauthorized)
        {
            throw new ProxmoxSettingsException($"Proxmox rejected token {candidate.TokenId}: {ex.Message}. Check the token id and secret.");
        }
        catch (ProxmoxException ex)
        {
            throw new ProxmoxSettingsException($"Proxmox answered {(int)ex.Status}: {ex.Message}.");
        }
        catch (HttpRequestException ex)
        {
            throw new ProxmoxSettingsException($"Cannot reach {OriginOf(candidate.BaseUrl)}: {ex.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ProxmoxSettingsException($"{OriginOf(candidate.BaseUrl)} did not answer within {options.Value.AttemptTimeoutSeconds} s.");
        }
    }

    /// <summary>https://host:8006, as an admin enters it (the client adds /api2/json).</summary>
    private static string OriginOf(Uri apiBase) => apiBase.GetLeftPart(UriPartial.Authority);
}
