using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Schema;

/// <summary>
/// Proxmox "property strings" (<c>name=eth0,bridge=vmbr0,ip=dhcp</c>, <c>virtio=BC:24:11:..,bridge=vmbr0</c>,
/// <c>local-lvm:vm-105-disk-0,size=8G</c>) parsed and printed by the rules of PVE::JSONSchema
/// parse_property_string / print_property_string, driven by the format object in the API schema.
/// </summary>
public static class PropertyString
{
    public static Dictionary<string, string> Parse(JsonObject format, string data, string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? defaultKey = null;
        foreach (var part in SplitPerl(data, ','))
        {
            if (string.IsNullOrWhiteSpace(part))
            {
                continue;
            }

            var eq = part.IndexOf('=');
            if (eq > 0 && eq < part.Length - 1)
            {
                var key = part[..eq];
                var value = part[(eq + 1)..];
                if (result.ContainsKey(key))
                {
                    throw new PropertyStringException($"duplicate key in comma-separated list property: {key}");
                }

                var schema = format[key] as JsonObject;
                if (schema is not null && SchemaJson.String(schema, "alias") is { } alias)
                {
                    if (SchemaJson.String(schema, "keyAlias") is { } keyAlias)
                    {
                        if (result.ContainsKey(keyAlias))
                        {
                            throw new PropertyStringException($"key alias '{keyAlias}' is already defined");
                        }

                        result[keyAlias] = key;
                    }

                    key = alias;
                    schema = format[key] as JsonObject;
                    if (result.ContainsKey(key))
                    {
                        throw new PropertyStringException($"key '{key}' is already defined (via alias)");
                    }
                }

                if (schema is null)
                {
                    throw new PropertyStringException($"invalid key in comma-separated list property: {key}");
                }

                result[key] = SchemaJson.String(schema, "type") == "boolean" ? ParseBoolean(value) ?? value : value;
            }
            else if (!part.Contains('='))
            {
                if (defaultKey is not null)
                {
                    throw new PropertyStringException($"duplicate key in comma-separated list property: {defaultKey}");
                }

                foreach (var (key, node) in format)
                {
                    if (node is JsonObject s && SchemaJson.Flag(s, "default_key"))
                    {
                        defaultKey = key;
                        if (result.ContainsKey(key))
                        {
                            throw new PropertyStringException($"duplicate key in comma-separated list property: {key}");
                        }

                        result[key] = SchemaJson.String(s, "type") == "boolean" ? ParseBoolean(part) ?? part : part;
                        break;
                    }
                }

                if (defaultKey is null)
                {
                    throw new PropertyStringException("value without key, but schema does not define a default key");
                }
            }
            else
            {
                throw new PropertyStringException("missing key in comma-separated list property");
            }
        }

        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        ParameterValidator.CheckObject(path, format, result.ToDictionary(p => p.Key, p => (JsonNode?)JsonValue.Create(p.Value)), false, errors);
        if (errors.Count > 0)
        {
            throw new PropertyStringException("format error", errors);
        }

        return result;
    }

    /// <summary>Default key first (combined with its key alias: <c>virtio=MAC</c>), then required keys, then the rest, sorted.</summary>
    public static string Print(IReadOnlyDictionary<string, string> data, JsonObject format)
    {
        string? defaultKey = null;
        var keyAliasProps = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, node) in format)
        {
            if (node is not JsonObject s)
            {
                continue;
            }

            if (SchemaJson.Flag(s, "default_key"))
            {
                defaultKey = key;
            }

            if (SchemaJson.String(s, "keyAlias") is { } keyAlias && SchemaJson.String(s, "alias") is { } alias)
            {
                keyAliasProps[keyAlias] = alias;
            }
        }

        var parts = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);

        void Add(string key, bool isDefault)
        {
            if (!done.Add(key) || !data.TryGetValue(key, out var value))
            {
                return;
            }

            if (keyAliasProps.TryGetValue(key, out var combine) && data.TryGetValue(combine, out var combineValue))
            {
                parts.Add($"{FormatValue(key, value, format)}={FormatValue(combine, combineValue, format)}");
                done.Add(combine);
                return;
            }

            var text = FormatValue(key, value, format);
            parts.Add(isDefault ? text : $"{key}={text}");
        }

        if (defaultKey is not null)
        {
            Add(defaultKey, true);
        }

        var sorted = data.Keys.Order(StringComparer.Ordinal).ToList();
        foreach (var key in sorted)
        {
            if (format[key] is JsonObject s && !SchemaJson.Flag(s, "optional"))
            {
                Add(key, false);
            }
        }

        foreach (var key in sorted)
        {
            Add(key, false);
        }

        return string.Join(',', parts);
    }

    public static string? ParseBoolean(string value) => value.ToLowerInvariant() switch
    {
        "1" or "on" or "yes" or "true" => "1",
        "0" or "off" or "no" or "false" => "0",
        _ => null,
    };

    private static string FormatValue(string key, string value, JsonObject format)
    {
        var schema = format[key] as JsonObject;
        if (schema is not null && SchemaJson.String(schema, "format") == "disk-size" && Formats.ParseSize(value) is { } bytes)
        {
            return Formats.FormatSize(bytes);
        }

        if (value.Contains(','))
        {
            throw new PropertyStringException($"illegal value with commas for {key}");
        }

        return value;
    }

    // Perl's split drops trailing empty fields; leading and inner ones stay.
    private static IEnumerable<string> SplitPerl(string text, char separator)
    {
        var parts = text.Split(separator).ToList();
        while (parts.Count > 0 && parts[^1].Length == 0)
        {
            parts.RemoveAt(parts.Count - 1);
        }

        return parts;
    }
}

/// <summary>A property string failed to parse; <see cref="PerlText"/> is how Proxmox stringifies it into an error.</summary>
public sealed class PropertyStringException(string message, IReadOnlyDictionary<string, string>? errors = null)
    : Exception(message)
{
    public IReadOnlyDictionary<string, string>? Errors { get; } = errors;

    public string PerlText
    {
        get
        {
            var text = Message + "\n";
            if (Errors is not null)
            {
                foreach (var (path, error) in Errors)
                {
                    text += $"{path}: {error}\n";
                }
            }

            return text;
        }
    }
}
