using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Secrets;
using Microsoft.Extensions.Options;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Ctrlable.Provisioner.Settings;

/// <summary>The build key of the host trigger as an admin sees it: never the passphrase, only whether one is stored.</summary>
public sealed record BuildKeyView(bool Configured, string? Target, string KeyPath, string HostKeyFingerprint, bool PassphraseStored);

public sealed record SetBuildKeyPassphraseRequest(string Passphrase);

/// <summary>
/// The passphrase of the host trigger's build key (HostTrigger:KeyPath), kept only encrypted. A passphrase is
/// stored only once it opens the key, so a typo shows now rather than at the next build.
/// </summary>
public sealed class BuildKeySettings(IOptions<HostTriggerOptions> options, SecretStore secrets, ILogger<BuildKeySettings> logger)
{
    private const string SecretName = "default";

    public async Task<BuildKeyView> GetAsync(CancellationToken ct)
    {
        var trigger = options.Value;
        return new BuildKeyView(trigger.IsConfigured, trigger.IsConfigured ? $"{trigger.User}@{trigger.Host}:{trigger.Port}" : null,
            trigger.KeyPath, trigger.HostKeyFingerprint, await secrets.GetAsync(SecretKind.HostTriggerKeyPassphrase, SecretName, ct) is not null);
    }

    /// <summary>Throws <see cref="BuildKeyException"/> when the key cannot be opened with the passphrase.</summary>
    public async Task<BuildKeyView> SetPassphraseAsync(string passphrase, string actor, CancellationToken ct)
    {
        var path = options.Value.KeyPath;
        if (path.Length == 0)
        {
            throw new BuildKeyException("No build key is configured (HostTrigger:KeyPath).");
        }

        try
        {
            using var key = new PrivateKeyFile(path, passphrase);
        }
        catch (Exception e) when (e is SshPassPhraseNullOrEmptyException or SshException or IOException or UnauthorizedAccessException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            throw new BuildKeyException($"The passphrase does not open the build key {path}: {e.Message}");
        }

        await secrets.SetAsync(SecretKind.HostTriggerKeyPassphrase, SecretName, passphrase, ct);
        logger.LogInformation("Build key passphrase set by {Actor}", actor);
        return await GetAsync(ct);
    }

    public async Task<bool> ClearPassphraseAsync(string actor, CancellationToken ct)
    {
        var removed = await secrets.DeleteAsync(SecretKind.HostTriggerKeyPassphrase, SecretName, ct);
        if (removed)
        {
            logger.LogInformation("Build key passphrase removed by {Actor}", actor);
        }

        return removed;
    }
}

/// <summary>Why a build key passphrase was not stored, for the admin who entered it.</summary>
public sealed class BuildKeyException(string message) : Exception(message);
