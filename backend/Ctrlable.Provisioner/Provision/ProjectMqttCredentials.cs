using System.Security.Cryptography;
using System.Text.Json;
using Ctrlable.Provisioner.Secrets;

namespace Ctrlable.Provisioner.Provision;

public sealed record MqttCredentials(string Username, string? Password)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Username = {Username}");
        return true;
    }
}

/// <summary>
/// A project's MQTT credentials, kept encrypted as <c>project/{id}/mqtt</c>. For the default broker (the
/// Mosquitto of the project's Home Assistant) they are generated once per project, and the Home Assistant
/// flow creates that user there; for an external broker they are what the dealer entered.
/// </summary>
public sealed class ProjectMqttCredentials(SecretStore secrets)
{
    /// <summary>The user name the default broker knows the site's guests by.</summary>
    public const string DefaultUsername = "ctrlable";

    // Instances of one project are configured in parallel; they must all get the one password.
    private readonly SemaphoreSlim _create = new(1, 1);

    public static string SecretName(long projectId) => $"project/{projectId}/mqtt";

    public async Task<MqttCredentials?> GetAsync(long projectId, CancellationToken ct) =>
        await secrets.GetAsync(SecretKind.ProjectAppSecret, SecretName(projectId), ct) is { } json
            ? JsonSerializer.Deserialize<MqttCredentials>(json, JsonSerializerOptions.Web)
            : null;

    public Task SetAsync(long projectId, MqttCredentials credentials, CancellationToken ct) =>
        secrets.SetAsync(SecretKind.ProjectAppSecret, SecretName(projectId), JsonSerializer.Serialize(credentials, JsonSerializerOptions.Web), ct);

    /// <summary>The default broker's credentials of the project, generated on first use.</summary>
    public async Task<MqttCredentials> GetOrCreateDefaultAsync(long projectId, CancellationToken ct)
    {
        await _create.WaitAsync(ct);
        try
        {
            if (await GetAsync(projectId, ct) is { Username: DefaultUsername, Password: not null } existing)
            {
                return existing;
            }

            var created = new MqttCredentials(DefaultUsername, GeneratedSecrets.Password(32));
            await SetAsync(projectId, created, ct);
            return created;
        }
        finally
        {
            _create.Release();
        }
    }
}

/// <summary>Random values for assignments. Passwords use letters and digits only: they end up in YAML, JSON and SQL.</summary>
public static class GeneratedSecrets
{
    private const string Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

    public static string Password(int length) => RandomNumberGenerator.GetString(Alphabet, length);

    public static IReadOnlyList<int> Bytes(int count) => [.. RandomNumberGenerator.GetBytes(count).Select(b => (int)b)];

    public static string HexKey(int bytes) => Convert.ToHexString(RandomNumberGenerator.GetBytes(bytes));
}
