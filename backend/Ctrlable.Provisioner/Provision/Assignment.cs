using System.ComponentModel;
using System.Text;
using System.Text.Json.Serialization;

namespace Ctrlable.Provisioner.Provision;

/// <summary>
/// What one guest learns on its first boot: how it is wired into the site and its own secrets. Generated per
/// instance at deploy time from the project's site settings and kept encrypted; the whole document is secret.
/// Only the sections of the guest's type are set.
/// </summary>
public sealed record Assignment
{
    public required string Hostname { get; init; }

    [Description("Template type, e.g. zigbee2mqtt, zwavejs, frigate, docker-portainer, freepbx.")]
    public required string Type { get; init; }

    public required string Release { get; init; }

    public MqttAssignment? Mqtt { get; init; }

    public ZigbeeAssignment? Zigbee { get; init; }

    public ZwaveAssignment? Zwave { get; init; }

    [Description("Frigate: cameras from the project's site settings; empty keeps the template's.")]
    public IReadOnlyList<CameraAssignment>? Cameras { get; init; }

    public AdminCredentials? Portainer { get; init; }

    [JsonPropertyName("freepbx")]
    public AdminCredentials? FreePbx { get; init; }

    /// <summary>A USB coordinator: the guest needs a manual passthrough in the host's LXC config.</summary>
    public bool NeedsBinding => Zigbee?.Usb == true || Zwave?.Usb == true;

    /// <summary>Set only in the answer to a claiming fetch (<see cref="FirstBootClaims"/>); never stored with the assignment.</summary>
    [Description("Only in the answer to the fetch that claims the assignment (with the release secret): the guest's own credential (64 hex digits). The guest keeps it and sends it in the X-Ctrlable-Instance-Credential header from then on; its first use confirms the claim, after which the release secret alone is refused.")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? InstanceCredential { get; init; }

    // Records print every property: the sections print their own non-secret parts, the credential never.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Hostname = {Hostname}, Type = {Type}, Release = {Release}, Mqtt = {Mqtt}, Zigbee = {Zigbee}, Zwave = {Zwave}, Portainer = {Portainer}, FreePbx = {FreePbx}");
        return true;
    }
}

public sealed record MqttAssignment(
    [property: Description("mqtt://host:port, or mqtts:// with TLS.")] string Server,
    string Host,
    int Port,
    bool Tls,
    string? User,
    string? Password,
    [property: Description("Zigbee2MQTT: MQTT base topic (the guest's host name, unique on the broker).")] string? BaseTopic,
    [property: Description("Frigate: MQTT client id.")] string? ClientId,
    [property: Description("Frigate: MQTT topic prefix.")] string? TopicPrefix)
{
    // Records print every property; these hold secrets.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Server = {Server}, User = {User}");
        return true;
    }
}

public sealed record ZigbeeAssignment(
    [property: Description("tcp://host:port of a network coordinator, the device path of a USB one; null when the site settings lack it.")] string? Port,
    bool Usb,
    [property: Description("zstack, ember, deconz, zigate or zboss.")] string Adapter,
    [property: Description("16 random bytes.")] IReadOnlyList<int> NetworkKey,
    [property: Description("1–0xFFFE.")] int PanId,
    [property: Description("8 random bytes.")] IReadOnlyList<int> ExtPanId,
    [property: Description("Publish Home Assistant MQTT discovery.")] bool HomeAssistantDiscovery)
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Port = {Port}, Adapter = {Adapter}");
        return true;
    }
}

public sealed record ZwaveAssignment(
    [property: Description("tcp://host:port of the ser2net bridge, the device path of a USB controller; null when the site settings lack it.")] string? Port,
    bool Usb,
    [property: Description("Z-Wave JS server port (Home Assistant's zwave_js integration connects here).")] int ServerPort,
    [property: Description("S0_Legacy, S2_Unauthenticated, S2_Authenticated, S2_AccessControl: 16 bytes each, hex.")] IReadOnlyDictionary<string, string> SecurityKeys,
    [property: Description("Z-Wave Long Range: S2_Authenticated, S2_AccessControl.")] IReadOnlyDictionary<string, string> SecurityKeysLongRange)
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Port = {Port}, ServerPort = {ServerPort}");
        return true;
    }
}

public sealed record CameraAssignment(
    [property: Description("Frigate camera name: letters, digits, _ and -.")] string Name,
    string StreamUrl)
{
    // Stream URLs often carry the camera's credentials.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Name = {Name}");
        return true;
    }
}

public sealed record AdminCredentials(string Username, string Password)
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Username = {Username}");
        return true;
    }
}
