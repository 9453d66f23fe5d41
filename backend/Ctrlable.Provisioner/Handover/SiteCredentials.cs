using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Handover;

public enum CredentialKind
{
    HomeAssistantOwner,
    HomeAssistantOrchestrator,
    HomeAssistantToken,
    Mqtt,
    ZigbeeNetworkKey,
    ZwaveKey,
    PortainerAdmin,
    FreepbxAdmin,
    CameraPassword,
}

/// <summary>One secret the orchestrator generated or set for a site, without its value.</summary>
public sealed record SiteCredential(
    [property: Description("Stable id within the project, e.g. i12.homeassistant-owner, site.mqtt, site.camera.front-door.")] string Id,
    CredentialKind Kind,
    [property: Description("What it is, e.g. 'Home Assistant owner password'.")] string Label,
    [property: Description("The instance it belongs to; null for a secret of the whole site (MQTT, cameras).")] long? InstanceId,
    string? Hostname,
    string? Type,
    [property: Description("The user name it goes with, when there is one.")] string? Username,
    [property: Description("Where it is used: the app or integration, and which guests hold it.")] string UsedBy,
    [property: Description("Where to open the app it signs in to (or the camera's stream, password masked).")] string? Url,
    bool Rotatable,
    [property: Description("Why it cannot be rotated from here (null when it can).")] string? NotRotatableReason,
    [property: Description("When the orchestrator last stored it.")] DateTimeOffset? UpdatedAt);

/// <summary>A guest of the site, for the hand-over sheet: its app and where it answers.</summary>
public sealed record CredentialInstance(long InstanceId, string Hostname, string Type, string? App, string State, string? Ip, string? Url);

public sealed record ProjectCredentials(long ProjectId, string ProjectName, string Slug, IReadOnlyList<CredentialInstance> Instances, IReadOnlyList<SiteCredential> Credentials);

/// <summary>A listed credential and where its value is kept.</summary>
internal sealed record CredentialEntry(SiteCredential Credential, SecretKind SecretKind, string SecretName, Func<string, string?> Extract)
{
    public InstanceRow? Instance { get; init; }
}

/// <summary>
/// Every secret the orchestrator generated or set for a site, read from where the wiring keeps it: the Home Assistant
/// credentials of the deploy (owner password, the orchestrator's user and long-lived token), each guest's first-boot
/// assignment (Zigbee network key, Z-Wave keys, Portainer and FreePBX admin passwords), the project's MQTT credentials and
/// camera passwords. Values leave only through <see cref="RevealAsync"/>; nothing here logs one.
/// </summary>
public sealed class SiteCredentials(InstanceRepository instances, SecretStore secrets, AppLocator apps)
{
    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;

    private const string Redeploy = "it was written into the guest at its first boot, and the guest has since forgotten its first-boot credential (by design), so the orchestrator has no way to push a new one";

    private static readonly (string Key, string Name)[] ZwaveKeys =
    [
        ("S0_Legacy", "S0 (legacy)"),
        ("S2_Unauthenticated", "S2 Unauthenticated"),
        ("S2_Authenticated", "S2 Authenticated"),
        ("S2_AccessControl", "S2 Access Control"),
    ];

    private static readonly (string Key, string Name)[] ZwaveLongRangeKeys =
    [
        ("S2_Authenticated", "Long Range S2 Authenticated"),
        ("S2_AccessControl", "Long Range S2 Access Control"),
    ];

    /// <summary>The project's credentials without values; null when the project does not exist.</summary>
    public async Task<ProjectCredentials?> ListAsync(long projectId, CancellationToken ct)
    {
        if (await LoadAsync(projectId, ct) is not { } site)
        {
            return null;
        }

        var (project, live, entries) = site;
        var sheet = live.Select(i => new CredentialInstance(i.Id, i.Hostname, i.Type,
            AppEndpoints.Defaults.TryGetValue(i.Type, out var app) ? app.Name : null, i.State, i.Ip, apps.Locate(i)?.Url.ToString())).ToList();
        return new ProjectCredentials(project.Id, project.Name, project.Slug, sheet, [.. entries.Select(e => e.Credential)]);
    }

    /// <summary>The project's credentials, each with where its value is; null when the project does not exist.</summary>
    internal async Task<IReadOnlyList<CredentialEntry>?> FindAllAsync(long projectId, CancellationToken ct) =>
        (await LoadAsync(projectId, ct))?.Entries;

    /// <summary>One credential with where its value is; null when the project or the credential does not exist.</summary>
    internal async Task<CredentialEntry?> FindAsync(long projectId, string credentialId, CancellationToken ct) =>
        (await FindAllAsync(projectId, ct))?.FirstOrDefault(e => e.Credential.Id == credentialId);

    /// <summary>The value; null when it is no longer stored.</summary>
    internal async Task<string?> RevealAsync(CredentialEntry entry, CancellationToken ct) =>
        await secrets.GetAsync(entry.SecretKind, entry.SecretName, ct) is { } stored ? entry.Extract(stored) : null;

    /// <summary>The project, its guests (not being deleted) and their credentials; null when the project does not exist.</summary>
    private async Task<(ProjectRow Project, IReadOnlyList<InstanceRow> Live, List<CredentialEntry> Entries)?> LoadAsync(long projectId, CancellationToken ct)
    {
        var project = await instances.GetProjectAsync(projectId, ct);
        if (project is null)
        {
            return null;
        }

        var live = (await instances.ListByProjectAsync(projectId, includeDeleted: false, ct)).Where(i => i.State != InstanceStates.Deleting).OrderBy(i => i.Id).ToList();
        return (project, live, await EntriesAsync(project, live, ct));
    }

    private async Task<List<CredentialEntry>> EntriesAsync(ProjectRow project, IReadOnlyList<InstanceRow> live, CancellationToken ct)
    {
        var updated = new Dictionary<(SecretKind, string), DateTimeOffset>();
        foreach (var kind in new[] { SecretKind.HomeAssistantCredential, SecretKind.InstanceAppSecret, SecretKind.ProjectAppSecret })
        {
            foreach (var info in await secrets.ListAsync(kind, "", ct))
            {
                updated[(kind, info.Name)] = info.UpdatedAt;
            }
        }

        DateTimeOffset? When(SecretKind kind, string name) => updated.TryGetValue((kind, name), out var at) ? at : null;
        var entries = new List<CredentialEntry>();
        foreach (var instance in live)
        {
            var url = apps.Locate(instance)?.Url.ToString();
            if (instance.Type == TemplateTypes.CtrlablePro)
            {
                entries.AddRange(await HomeAssistantAsync(instance, url, When, ct));
            }
            else if (TemplateTypes.IsWired(instance.Type))
            {
                entries.AddRange(await GuestAsync(instance, url, When, ct));
            }
        }

        var settings = SiteSettings.FromJson(project.SettingsJson);
        entries.AddRange(await SiteAsync(project, settings, live, When, ct));
        return entries;
    }

    // --- Home Assistant (ctrlable-pro) ---------------------------------------------------------

    private async Task<IEnumerable<CredentialEntry>> HomeAssistantAsync(InstanceRow instance, string? url, Func<SecretKind, string, DateTimeOffset?> when, CancellationToken ct)
    {
        var result = new List<CredentialEntry>();
        var notActive = instance.State != InstanceStates.Active
            ? $"Home Assistant is {instance.State}, not active: rotate once its deploy has finished."
            : url is null ? "Home Assistant's address is not known; retry the instance." : null;
        var adminName = HomeAssistantSetup.AdminSecretName(instance.Id);
        if (await JsonSecretAsync(SecretKind.HomeAssistantCredential, adminName, ct) is { } admin)
        {
            result.Add(Entry(instance, $"i{instance.Id}.homeassistant-owner", CredentialKind.HomeAssistantOwner, "Home Assistant owner password",
                Text(admin, "username"), "Signing in to Home Assistant as its owner (the base backup's admin, with a password of this site's own)",
                url, notActive, when(SecretKind.HomeAssistantCredential, adminName), SecretKind.HomeAssistantCredential, adminName, "password"));
        }

        var orchestratorName = HomeAssistantSetup.OrchestratorSecretName(instance.Id);
        if (await JsonSecretAsync(SecretKind.HomeAssistantCredential, orchestratorName, ct) is { } orchestrator)
        {
            var at = when(SecretKind.HomeAssistantCredential, orchestratorName);
            result.Add(Entry(instance, $"i{instance.Id}.homeassistant-orchestrator", CredentialKind.HomeAssistantOrchestrator, "Home Assistant orchestrator account password",
                Text(orchestrator, "username"), "The orchestrator's own Home Assistant account (administrator); the orchestrator works with its long-lived token, not this password",
                url, notActive, at, SecretKind.HomeAssistantCredential, orchestratorName, "password"));
            if (Text(orchestrator, "token") is not null)
            {
                result.Add(Entry(instance, $"i{instance.Id}.homeassistant-token", CredentialKind.HomeAssistantToken, "Home Assistant long-lived access token",
                    Text(orchestrator, "username"), "The orchestrator's access to Home Assistant's API (wiring MQTT, Z-Wave JS and Frigate); full administrator rights",
                    url, notActive, at, SecretKind.HomeAssistantCredential, orchestratorName, "token"));
            }
        }

        return result;
    }

    // --- Guests: what their first-boot assignment set -----------------------------------------

    private async Task<IEnumerable<CredentialEntry>> GuestAsync(InstanceRow instance, string? url, Func<SecretKind, string, DateTimeOffset?> when, CancellationToken ct)
    {
        var name = AssignmentService.SecretName(instance.Id);
        if (await secrets.GetAsync(SecretKind.InstanceAppSecret, name, ct) is not { } json
            || JsonSerializer.Deserialize<Assignment>(json, Json) is not { } assignment)
        {
            return [];
        }

        var at = when(SecretKind.InstanceAppSecret, name);
        var result = new List<CredentialEntry>();
        CredentialEntry Assigned(string slot, CredentialKind kind, string label, string? username, string usedBy, string reason, Func<Assignment, string?> value) =>
            new(new SiteCredential($"i{instance.Id}.{slot}", kind, label, instance.Id, instance.Hostname, instance.Type, username, usedBy, url, false, reason, at),
                SecretKind.InstanceAppSecret, name, stored => JsonSerializer.Deserialize<Assignment>(stored, Json) is { } a ? value(a) : null)
            { Instance = instance };

        if (assignment.Zigbee is { } zigbee)
        {
            result.Add(Assigned("zigbee-network-key", CredentialKind.ZigbeeNetworkKey,
                $"Zigbee network key (PAN ID 0x{zigbee.PanId:X4}, extended PAN ID {Hex(zigbee.ExtPanId)})", null,
                "Zigbee2MQTT's Zigbee network (advanced.network_key): every paired Zigbee device holds it",
                "Every paired Zigbee device holds this key: a new one means pairing every device again. It is never rotated from here.",
                a => a.Zigbee is { } z ? Hex(z.NetworkKey) : null));
        }

        if (assignment.Zwave is { } zwave)
        {
            foreach (var (group, keys, longRange) in new[] { (zwave.SecurityKeys, ZwaveKeys, false), (zwave.SecurityKeysLongRange, ZwaveLongRangeKeys, true) })
            {
                foreach (var (key, keyName) in keys.Where(k => group.ContainsKey(k.Key)))
                {
                    var slot = $"zwave-{(longRange ? "lr-" : "")}{key.ToLowerInvariant().Replace('_', '-')}";
                    result.Add(Assigned(slot, CredentialKind.ZwaveKey, $"Z-Wave {keyName} key", null,
                        $"Z-Wave JS UI's security keys{(longRange ? " (Long Range)" : "")}: every device included securely with this key depends on it",
                        "Every Z-Wave device included securely with this key depends on it: a new one means excluding and including every such device again. It is never rotated from here.",
                        a => (longRange ? a.Zwave?.SecurityKeysLongRange : a.Zwave?.SecurityKeys)?.GetValueOrDefault(key)));
                }
            }
        }

        if (assignment.Portainer is { } portainer)
        {
            result.Add(Assigned("portainer-admin", CredentialKind.PortainerAdmin, "Portainer admin password", portainer.Username,
                "Signing in to Portainer as its administrator",
                $"Change it in Portainer (My account); the orchestrator cannot: {Redeploy}.",
                a => a.Portainer?.Password));
        }

        if (assignment.FreePbx is { } freePbx)
        {
            result.Add(Assigned("freepbx-admin", CredentialKind.FreepbxAdmin, "FreePBX admin password", freePbx.Username,
                "Signing in to FreePBX's administration as its administrator",
                $"Change it in FreePBX (Admin → Administrators); the orchestrator cannot: {Redeploy}.",
                a => a.FreePbx?.Password));
        }

        return result;
    }

    // --- The site: MQTT and cameras -----------------------------------------------------------

    private async Task<IEnumerable<CredentialEntry>> SiteAsync(ProjectRow project, SiteSettings settings, IReadOnlyList<InstanceRow> live, Func<SecretKind, string, DateTimeOffset?> when, CancellationToken ct)
    {
        var result = new List<CredentialEntry>();
        string Hosts(params string[] types) =>
            live.Where(i => types.Contains(i.Type)).Select(i => i.Hostname).DefaultIfEmpty("none deployed yet").Aggregate((a, b) => $"{a}, {b}");

        var mqttName = ProjectMqttCredentials.SecretName(project.Id);
        if (await JsonSecretAsync(SecretKind.ProjectAppSecret, mqttName, ct) is { } mqtt && Text(mqtt, "password") is not null)
        {
            var guests = Hosts(TemplateTypes.Zigbee2Mqtt, TemplateTypes.Frigate);
            var (usedBy, reason, url) = settings.Mqtt is { } external
                ? ($"The site's own MQTT broker {external.Host}:{external.Port}; Home Assistant's MQTT integration; guests: {guests}",
                   "Entered for the site's own broker: change it on that broker, then in the project's MQTT settings.",
                   $"{(external.Tls ? "mqtts" : "mqtt")}://{external.Host}:{external.Port}")
                : ($"Home Assistant's Mosquitto add-on (login) and its MQTT integration; guests: {guests}",
                   "Zigbee2MQTT and Frigate guests hold it in their configuration from their first boot and the orchestrator cannot reach into a guest after it; changing it in Mosquitto alone would cut them off.",
                   $"mqtt://{project.Slug}-{TemplateTypes.CtrlablePro}:1883");
            result.Add(new CredentialEntry(
                new SiteCredential("site.mqtt", CredentialKind.Mqtt, "MQTT password", null, null, null,
                    Text(mqtt, "username"), usedBy, url, false, reason, when(SecretKind.ProjectAppSecret, mqttName)),
                SecretKind.ProjectAppSecret, mqttName, stored => Text(JsonNode.Parse(stored), "password")));
        }

        foreach (var camera in settings.Cameras)
        {
            var name = CameraCredentials.SecretName(project.Id, camera.Name);
            var at = when(SecretKind.ProjectAppSecret, name);
            if (at is null)
            {
                continue;
            }

            result.Add(new CredentialEntry(
                new SiteCredential($"site.camera.{camera.Name.ToLowerInvariant()}", CredentialKind.CameraPassword, $"Camera {camera.Name} password", null, null, null,
                    CameraUser(camera.StreamUrl), $"The camera's stream, read by Frigate ({Hosts(TemplateTypes.Frigate)})",
                    CameraCredentials.Redact(camera.StreamUrl), false,
                    "The camera's own password: change it on the camera, then its stream URL in the project's settings (a Frigate guest deployed earlier keeps the one its first boot wrote).", at),
                SecretKind.ProjectAppSecret, name, stored => stored));
        }

        return result;
    }

    // --- Helpers --------------------------------------------------------------------------------

    private static CredentialEntry Entry(InstanceRow instance, string id, CredentialKind kind, string label, string? username, string usedBy, string? url,
        string? notRotatable, DateTimeOffset? at, SecretKind secretKind, string secretName, string field) =>
        new(new SiteCredential(id, kind, label, instance.Id, instance.Hostname, instance.Type, username, usedBy, url, notRotatable is null, notRotatable, at),
            secretKind, secretName, stored => Text(JsonNode.Parse(stored), field))
        { Instance = instance };

    private async Task<JsonNode?> JsonSecretAsync(SecretKind kind, string name, CancellationToken ct) =>
        await secrets.GetAsync(kind, name, ct) is { } json ? JsonNode.Parse(json) : null;

    private static string? Text(JsonNode? node, string field) =>
        node?[field] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    /// <summary>The user of rtsp://user:password@host/… (as the project's settings hold it, password masked).</summary>
    private static string? CameraUser(string url) =>
        StreamUrlParts.Parse(url) is { Password: not null } parts ? parts.BeforePassword[(parts.BeforePassword.IndexOf("://", StringComparison.Ordinal) + 3)..^1] : null;

    private static string Hex(IReadOnlyList<int> bytes) => Convert.ToHexString([.. bytes.Select(b => (byte)b)]);
}
