using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Provision;

/// <summary>What the deploy pipeline learns when it creates an instance's assignment.</summary>
/// <param name="NeedsBinding">A coordinator is on USB: the guest needs a manual passthrough on the Proxmox host.</param>
/// <param name="Warnings">Things the dealer should know (missing site settings, USB binding), one sentence each.</param>
public sealed record AssignmentSummary(bool NeedsBinding, IReadOnlyList<string> Warnings);

/// <summary>The template types the first-boot contract wires (manifest template names).</summary>
public static class TemplateTypes
{
    public const string Zigbee2Mqtt = "zigbee2mqtt";
    public const string ZwaveJs = "zwavejs";
    public const string Frigate = "frigate";
    public const string DockerPortainer = "docker-portainer";
    public const string FreePbx = "freepbx";
    public const string CtrlablePro = "ctrlable-pro";

    public static bool IsWired(string type) => type is Zigbee2Mqtt or ZwaveJs or Frigate or DockerPortainer or FreePbx;
}

/// <summary>
/// Generates each instance's assignment at deploy time — its wiring from the project's site settings and fresh
/// secrets of its own — and keeps it encrypted (<c>instance/{id}/assignment</c>) until the guest fetches it on its
/// first boot. The whole assignment is secret: it is never logged and no read endpoint returns it.
/// </summary>
public sealed class AssignmentService(
    SecretStore secrets,
    ProjectMqttCredentials mqttCredentials,
    CameraCredentials cameraCredentials,
    FirstBootClaims claims,
    Database database,
    TimeProvider time,
    ILogger<AssignmentService> logger)
{
    /// <summary>The Z-Wave JS server port Home Assistant's zwave_js integration connects to.</summary>
    public const int ZwaveServerPort = 3000;

    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;

    private readonly SemaphoreSlim _create = new(1, 1);

    public static string SecretName(long instanceId) => $"instance/{instanceId}/assignment";

    /// <summary>
    /// Generates and stores the instance's assignment (every secret fresh) and records whether it needs a USB
    /// binding. Idempotent: when the instance has one already (a resumed deploy), that one is kept. The guest can
    /// fetch it once the instance's state is <see cref="InstanceStates.Waiting"/>. <paramref name="brokerHost"/> is where the
    /// project's own broker (its Home Assistant's Mosquitto) is reached (<see cref="SiteAddresses"/>); null when the
    /// project has no Home Assistant.
    /// </summary>
    public async Task<AssignmentSummary> CreateAsync(long instanceId, string type, string hostname, string release, long projectId, SiteSettings settings, string? brokerHost, CancellationToken ct)
    {
        await _create.WaitAsync(ct);
        try
        {
            var assignment = await GetAsync(instanceId, ct);
            if (assignment is null)
            {
                assignment = await GenerateAsync(type, hostname, release, projectId, settings, brokerHost, ct);
                await secrets.SetAsync(SecretKind.InstanceAppSecret, SecretName(instanceId), JsonSerializer.Serialize(assignment, Json), ct);
                logger.LogInformation("Created the first-boot assignment of instance {InstanceId} ({Hostname}, {Type})", instanceId, hostname, type);
            }

            await SetNeedsBindingAsync(instanceId, assignment.NeedsBinding, ct);
            return new AssignmentSummary(assignment.NeedsBinding, Warnings(assignment));
        }
        finally
        {
            _create.Release();
        }
    }

    /// <summary>Removes the stored assignment and its first-boot claim (the instance is deleted).</summary>
    public async Task DeleteAsync(long instanceId, CancellationToken ct)
    {
        await claims.ResetAsync(instanceId, ct);
        if (await secrets.DeleteAsync(SecretKind.InstanceAppSecret, SecretName(instanceId), ct))
        {
            logger.LogInformation("Deleted the first-boot assignment of instance {InstanceId}", instanceId);
        }
    }

    /// <summary>The stored assignment; for the provision endpoints only.</summary>
    internal async Task<Assignment?> GetAsync(long instanceId, CancellationToken ct) =>
        await secrets.GetAsync(SecretKind.InstanceAppSecret, SecretName(instanceId), ct) is { } json
            ? JsonSerializer.Deserialize<Assignment>(json, Json)
            : null;

    private async Task<Assignment> GenerateAsync(string type, string hostname, string release, long projectId, SiteSettings settings, string? brokerHost, CancellationToken ct)
    {
        var assignment = new Assignment { Hostname = hostname, Type = type, Release = release };
        switch (type)
        {
            case TemplateTypes.Zigbee2Mqtt:
                var zigbee = settings.Zigbee;
                return assignment with
                {
                    Mqtt = await MqttAsync(projectId, settings, brokerHost, ct) with { BaseTopic = hostname },
                    Zigbee = new ZigbeeAssignment(
                        Port: CoordinatorPort(zigbee),
                        Usb: zigbee.Mode == CoordinatorMode.Usb,
                        Adapter: zigbee.Adapter,
                        NetworkKey: GeneratedSecrets.Bytes(16),
                        PanId: PanId(),
                        ExtPanId: ExtendedPanId(),
                        HomeAssistantDiscovery: true),
                };
            case TemplateTypes.ZwaveJs:
                var zwave = settings.Zwave;
                return assignment with
                {
                    Zwave = new ZwaveAssignment(
                        Port: CoordinatorPort(zwave),
                        Usb: zwave.Mode == CoordinatorMode.Usb,
                        ServerPort: ZwaveServerPort,
                        SecurityKeys: new Dictionary<string, string>
                        {
                            ["S0_Legacy"] = GeneratedSecrets.HexKey(16),
                            ["S2_Unauthenticated"] = GeneratedSecrets.HexKey(16),
                            ["S2_Authenticated"] = GeneratedSecrets.HexKey(16),
                            ["S2_AccessControl"] = GeneratedSecrets.HexKey(16),
                        },
                        SecurityKeysLongRange: new Dictionary<string, string>
                        {
                            ["S2_Authenticated"] = GeneratedSecrets.HexKey(16),
                            ["S2_AccessControl"] = GeneratedSecrets.HexKey(16),
                        }),
                };
            case TemplateTypes.Frigate:
                return assignment with
                {
                    Mqtt = await MqttAsync(projectId, settings, brokerHost, ct) with { ClientId = hostname, TopicPrefix = "frigate" },
                    Cameras = await CamerasAsync(projectId, settings.Cameras, ct),
                };
            case TemplateTypes.DockerPortainer:
                // Portainer asks for at least 12 characters.
                return assignment with { Portainer = new AdminCredentials("admin", GeneratedSecrets.Password(24)) };
            case TemplateTypes.FreePbx:
                return assignment with { FreePbx = new AdminCredentials("admin", GeneratedSecrets.Password(24)) };
            default:
                if (type == TemplateTypes.CtrlablePro && settings.Mqtt is null)
                {
                    // Home Assistant hosts the site's broker: its MQTT user exists from the start.
                    await mqttCredentials.GetOrCreateDefaultAsync(projectId, ct);
                }

                return assignment;
        }
    }

    /// <summary>
    /// The project's Home Assistant Mosquitto with the per-site user at <paramref name="brokerHost"/>, unless the site
    /// settings name another broker. Without a Home Assistant in the project the broker is named by its future host name.
    /// </summary>
    private async Task<MqttAssignment> MqttAsync(long projectId, SiteSettings settings, string? brokerHost, CancellationToken ct)
    {
        if (settings.Mqtt is { } external)
        {
            var stored = await mqttCredentials.GetAsync(projectId, ct);
            var password = stored is not null && stored.Username == external.Username ? stored.Password : null;
            return new MqttAssignment(Server(external.Host, external.Port, external.Tls), external.Host, external.Port, external.Tls, external.Username, password, null, null, null);
        }

        var host = brokerHost ?? $"{await SlugAsync(projectId, ct)}-{TemplateTypes.CtrlablePro}";
        var credentials = await mqttCredentials.GetOrCreateDefaultAsync(projectId, ct);
        return new MqttAssignment(Server(host, 1883, false), host, 1883, false, credentials.Username, credentials.Password, null, null, null);
    }

    /// <summary>The broker as Zigbee2MQTT's <c>mqtt.server</c> takes it: mqtt(s)://host:port, an IPv6 host in brackets.</summary>
    internal static string Server(string host, int port, bool tls) =>
        $"{(tls ? "mqtts" : "mqtt")}://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}";

    private static string? CoordinatorPort(CoordinatorSettings coordinator) => coordinator.Mode switch
    {
        CoordinatorMode.Usb => coordinator.UsbDevice,
        _ => string.IsNullOrWhiteSpace(coordinator.Host) ? null : $"tcp://{coordinator.Host}:{coordinator.Port}",
    };

    /// <summary>1–0xFFFE, as Zigbee2MQTT generates it (0xFFFF is the broadcast PAN).</summary>
    private static int PanId() => System.Security.Cryptography.RandomNumberGenerator.GetInt32(1, 0xFFFF);

    /// <summary>8 random bytes, never all 0xDD (Zigbee2MQTT's default) nor all zeros or ones.</summary>
    private static IReadOnlyList<int> ExtendedPanId()
    {
        while (true)
        {
            var bytes = GeneratedSecrets.Bytes(8);
            if (bytes.Distinct().Count() > 1)
            {
                return bytes;
            }
        }
    }

    /// <summary>Camera names as Frigate accepts them (letters, digits, _ and -), unique; each URL with its stored password.</summary>
    private async Task<List<CameraAssignment>> CamerasAsync(long projectId, IReadOnlyList<CameraSettings> cameras, CancellationToken ct)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<CameraAssignment>();
        foreach (var camera in cameras)
        {
            var name = new StringBuilder();
            foreach (var c in camera.Name.Trim().ToLowerInvariant())
            {
                name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_');
            }

            var candidate = name.Length == 0 ? "camera" : name.ToString();
            var unique = candidate;
            for (var n = 2; !used.Add(unique); n++)
            {
                unique = $"{candidate}_{n}";
            }

            result.Add(new CameraAssignment(unique, await cameraCredentials.RevealAsync(projectId, camera, ct)));
        }

        return result;
    }

    /// <summary>What the dealer should know about an assignment (settings missing, a broker without a password, a USB binding).</summary>
    internal static List<string> Warnings(Assignment assignment)
    {
        var warnings = new List<string>();
        if (assignment.Zigbee is { } zigbee)
        {
            warnings.AddRange(CoordinatorWarnings("Zigbee coordinator", zigbee.Port, zigbee.Usb));
        }

        if (assignment.Zwave is { } zwave)
        {
            warnings.AddRange(CoordinatorWarnings("Z-Wave controller", zwave.Port, zwave.Usb));
        }

        if (assignment.Mqtt is { User: not null, Password: null })
        {
            warnings.Add($"The MQTT broker {assignment.Mqtt.Host} has user {assignment.Mqtt.User} but no password is stored for this project: set it in the project's MQTT settings.");
        }

        if (!TemplateTypes.IsWired(assignment.Type) && assignment.Type != TemplateTypes.CtrlablePro)
        {
            warnings.Add($"The first boot of a {assignment.Type} guest resets its identity only; there is no wiring for this type.");
        }

        return warnings;
    }

    private static IEnumerable<string> CoordinatorWarnings(string what, string? port, bool usb)
    {
        if (port is null)
        {
            yield return usb
                ? $"The {what} is on USB but its device path is missing in the site settings."
                : $"The {what}'s address is missing in the site settings: the guest keeps the template's setting until the instance is redeployed.";
        }

        if (usb)
        {
            yield return $"The {what} is on USB: pass it through to the guest in its LXC configuration on the Proxmox host (needs binding).";
        }
    }

    private async Task<string> SlugAsync(long projectId, CancellationToken ct)
    {
        const string sql = "SELECT slug FROM projects WHERE id = @projectId;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(sql, new { projectId }, cancellationToken: ct))
            ?? throw new InvalidOperationException($"Project {projectId} does not exist.");
    }

    private async Task SetNeedsBindingAsync(long instanceId, bool needsBinding, CancellationToken ct)
    {
        const string sql = "UPDATE instances SET needs_binding = @needsBinding, updated_at = @now WHERE id = @instanceId AND needs_binding <> @needsBinding;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { instanceId, needsBinding, now = time.GetUtcNow() }, cancellationToken: ct));
    }
}
