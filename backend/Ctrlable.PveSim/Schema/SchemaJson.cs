using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Schema;

/// <summary>Small helpers for reading the Perl-generated schema, where 1, "1" and true all mean yes.</summary>
internal static class SchemaJson
{
    public static bool IsTrue(JsonNode node) => node.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.Number => node.GetValue<double>() != 0,
        JsonValueKind.String => node.GetValue<string>() is not ("" or "0"),
        _ => false,
    };

    public static bool Flag(JsonObject schema, string key) => schema[key] is { } v && IsTrue(v);

    /// <summary>The text Perl would print for a scalar schema value (100, "0", 1.5).</summary>
    public static string Text(JsonNode node) => node.GetValueKind() switch
    {
        JsonValueKind.String => node.GetValue<string>(),
        JsonValueKind.Number => node.ToJsonString(),
        JsonValueKind.True => "1",
        JsonValueKind.False => "0",
        _ => node.ToJsonString(),
    };

    public static double Number(JsonNode node) => node.GetValueKind() == JsonValueKind.String
        ? double.Parse(node.GetValue<string>(), CultureInfo.InvariantCulture)
        : node.GetValue<double>();

    public static string? String(JsonObject schema, string key) =>
        schema[key] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
}
