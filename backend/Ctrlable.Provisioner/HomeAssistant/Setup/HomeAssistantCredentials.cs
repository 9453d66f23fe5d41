using System.Text.Json;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Secrets;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>The per-site Home Assistant credentials the orchestrator made, kept encrypted in the secret store.</summary>
public sealed class HomeAssistantCredentials(SecretStore secrets)
{
    /// <summary>Per-site credentials, generated and stored before first use so that a restart uses the same ones.</summary>
    internal async Task<SiteCredentials> CredentialsAsync(string name, string username, CancellationToken ct)
    {
        if (await secrets.GetAsync(SecretKind.HomeAssistantCredential, name, ct) is { } json
            && JsonSerializer.Deserialize<SiteCredentials>(json, JsonSerializerOptions.Web) is { } stored && stored.Username == username)
        {
            return stored;
        }

        var created = new SiteCredentials(username, GeneratedSecrets.Password(32), null);
        await secrets.SetAsync(SecretKind.HomeAssistantCredential, name, Serialize(created), ct);
        return created;
    }

    internal static string Serialize(SiteCredentials credentials) => JsonSerializer.Serialize(credentials, JsonSerializerOptions.Web);

    /// <summary>The orchestrator's long-lived token of a site's Home Assistant; null before the instance is secured.</summary>
    public async Task<string?> TokenAsync(long instanceId, CancellationToken ct) =>
        await secrets.GetAsync(SecretKind.HomeAssistantCredential, HomeAssistantSetup.OrchestratorSecretName(instanceId), ct) is { } json
            ? JsonSerializer.Deserialize<SiteCredentials>(json, JsonSerializerOptions.Web)?.Token
            : null;

    /// <summary>Credentials the orchestrator made for one site; <see cref="Token"/> is the long-lived token of the orchestrator's user.</summary>
    internal sealed record SiteCredentials(string Username, string Password, string? Token)
    {
        private bool PrintMembers(System.Text.StringBuilder builder)
        {
            builder.Append($"Username = {Username}");
            return true;
        }
    }
}
