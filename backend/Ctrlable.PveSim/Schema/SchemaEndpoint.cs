using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ctrlable.PveSim.Schema;

/// <summary>One method of one API path as the schema defines it.</summary>
public sealed partial class SchemaEndpoint
{
    // The schema collapses net0..net31 etc. into "net[n]"; these are the real upper bounds
    // (MAX_LXC_NETWORKS, MAX_NETS, MAX_SCSI_DISKS, ... in pve-container and qemu-server).
    private static readonly Dictionary<string, int> IndexedLimits = new(StringComparer.Ordinal)
    {
        ["net"] = 32,
        ["ipconfig"] = 32,
        ["mp"] = 256,
        ["unused"] = 256,
        ["dev"] = 256,
        ["ide"] = 4,
        ["scsi"] = 31,
        ["virtio"] = 16,
        ["sata"] = 6,
        ["numa"] = 8,
        ["hostpci"] = 16,
        ["usb"] = 14,
        ["serial"] = 4,
        ["parallel"] = 3,
        ["virtiofs"] = 10,
    };

    private readonly JsonObject _properties;

    public SchemaEndpoint(string method, string path, JsonObject info)
    {
        Method = method;
        Path = path;
        Info = info;
        var parameters = info["parameters"] as JsonObject;
        _properties = parameters?["properties"] as JsonObject ?? [];
        var additional = parameters?["additionalProperties"];
        AdditionalProperties = additional is null || SchemaJson.IsTrue(additional);
    }

    public string Method { get; }

    public string Path { get; }

    public JsonObject Info { get; }

    public bool AdditionalProperties { get; }

    public IEnumerable<string> ParameterNames => _properties.Select(p => p.Key);

    public JsonObject? Permissions => Info["permissions"] as JsonObject;

    public JsonNode? Returns => Info["returns"];

    public bool AllowToken => Info["allowtoken"] is { } v && SchemaJson.IsTrue(v);

    public string? ProxyTo => Info["proxyto"]?.GetValue<string>();

    /// <summary>All declared properties, with "[n]" families as declared (net[n]).</summary>
    public IEnumerable<KeyValuePair<string, JsonObject>> Properties =>
        _properties.Select(p => new KeyValuePair<string, JsonObject>(p.Key, p.Value!.AsObject()));

    /// <summary>The property schema for a concrete parameter name (net3 resolves to net[n]).</summary>
    public JsonObject? FindProperty(string name)
    {
        if (_properties[name] is JsonObject exact)
        {
            return exact;
        }

        var m = IndexedName().Match(name);
        if (!m.Success)
        {
            return null;
        }

        var prefix = m.Groups[1].Value;
        if (_properties[prefix + "[n]"] is not JsonObject family)
        {
            return null;
        }

        var index = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        var limit = IndexedLimits.GetValueOrDefault(prefix, 32);
        return index < limit && m.Groups[2].Value == index.ToString(System.Globalization.CultureInfo.InvariantCulture)
            ? family
            : null;
    }

    public override string ToString() => $"{Method} {Path}";

    [GeneratedRegex(@"^([a-z][a-z_-]*?)(\d+)$")]
    private static partial Regex IndexedName();
}
