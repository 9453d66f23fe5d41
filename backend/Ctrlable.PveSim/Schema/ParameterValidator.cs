using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ctrlable.PveSim.Schema;

/// <summary>
/// Request parameter validation with the rules and messages of PVE::JSONSchema (check_prop, check_type,
/// check_object): type, then format, pattern, length, range and enum, each error keyed by parameter.
/// </summary>
public static partial class ParameterValidator
{
    private static readonly ConcurrentDictionary<string, Regex> Patterns = new(StringComparer.Ordinal);

    public static Dictionary<string, string> Validate(SchemaEndpoint endpoint, IReadOnlyDictionary<string, JsonNode?> parameters)
    {
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, schema) in endpoint.Properties)
        {
            if (!name.EndsWith("[n]", StringComparison.Ordinal))
            {
                CheckProp(parameters.GetValueOrDefault(name), schema, name, errors);
            }
        }

        foreach (var (name, value) in parameters)
        {
            var schema = endpoint.FindProperty(name);
            if (schema is null)
            {
                if (!endpoint.AdditionalProperties)
                {
                    AddError(errors, name, "property is not defined in schema and the schema does not allow additional properties");
                }

                continue;
            }

            if (endpoint.Properties.All(p => p.Key != name))
            {
                CheckProp(value, schema, name, errors); // a member of a net[n]-style family
            }

            CheckRequires(parameters, schema, name, errors);
        }

        return errors;
    }

    /// <summary>check_object for flat maps (property strings and parameter sets).</summary>
    internal static void CheckObject(string path, JsonObject schema, IReadOnlyDictionary<string, JsonNode?> value, bool additionalProperties, Dictionary<string, string> errors)
    {
        foreach (var (key, sub) in schema)
        {
            if (sub is JsonObject subSchema)
            {
                CheckProp(value.GetValueOrDefault(key), subSchema, Join(path, key), errors);
            }
        }

        foreach (var key in value.Keys)
        {
            if (schema[key] is JsonObject subSchema)
            {
                CheckRequires(value, subSchema, Join(path, key), errors);
                continue;
            }

            if (!additionalProperties)
            {
                AddError(errors, Join(path, key), "property is not defined in schema and the schema does not allow additional properties");
            }
        }
    }

    internal static void CheckProp(JsonNode? value, JsonObject schema, string path, Dictionary<string, string> errors)
    {
        if (schema["alias"] is not null)
        {
            return;
        }

        if (value is null)
        {
            if (!SchemaJson.Flag(schema, "optional"))
            {
                AddError(errors, path, "property is missing and it is not optional");
            }

            return;
        }

        var type = SchemaJson.String(schema, "type");
        if (!CheckType(path, type, value, errors))
        {
            return;
        }

        if (value is JsonArray array)
        {
            if (schema["items"] is JsonObject items)
            {
                for (var i = 0; i < array.Count; i++)
                {
                    CheckProp(array[i], items, $"{path}[{i}]", errors);
                }
            }

            return;
        }

        if (value is JsonObject obj)
        {
            if (schema["properties"] is JsonObject props)
            {
                var additional = schema["additionalProperties"] is not { } a || SchemaJson.IsTrue(a);
                CheckObject(path, props, obj.ToDictionary(p => p.Key, p => p.Value), additional, errors);
            }

            return;
        }

        var text = ScalarText(value);
        switch (schema["format"])
        {
            case JsonObject propertyFormat:
                try
                {
                    PropertyString.Parse(propertyFormat, text, path);
                }
                catch (PropertyStringException e)
                {
                    AddError(errors, path, "invalid format - " + e.PerlText);
                    return;
                }

                break;
            case JsonValue namedFormat when Formats.Verify(namedFormat.GetValue<string>(), text) is { } formatError:
                AddError(errors, path, "invalid format - " + formatError);
                return;
        }

        if (SchemaJson.String(schema, "pattern") is { } pattern && !PatternFor(pattern).IsMatch(text))
        {
            AddError(errors, path, "value does not match the regex pattern");
            return;
        }

        if (schema["maxLength"] is { } maxLength && text.Length > SchemaJson.Number(maxLength))
        {
            AddError(errors, path, $"value may only be {SchemaJson.Text(maxLength)} characters long");
            return;
        }

        if (schema["minLength"] is { } minLength && text.Length < SchemaJson.Number(minLength))
        {
            AddError(errors, path, $"value must be at least {SchemaJson.Text(minLength)} characters long");
            return;
        }

        if (IsNumber(text))
        {
            var number = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            if (schema["maximum"] is { } max && number > SchemaJson.Number(max))
            {
                AddError(errors, path, $"value must have a maximum value of {SchemaJson.Text(max)}");
                return;
            }

            if (schema["minimum"] is { } min && number < SchemaJson.Number(min))
            {
                AddError(errors, path, $"value must have a minimum value of {SchemaJson.Text(min)}");
                return;
            }
        }

        if (schema["enum"] is JsonArray values && values.All(v => SchemaJson.Text(v!) != text))
        {
            AddError(errors, path, $"value '{text}' does not have a value in the enumeration '{string.Join(", ", values.Select(v => SchemaJson.Text(v!)))}'");
        }
    }

    /// <summary>How Perl sees a JSON scalar: strings as-is, numbers as written, JSON booleans as 1/0.</summary>
    public static string ScalarText(JsonNode value) => value.GetValueKind() switch
    {
        JsonValueKind.String => value.GetValue<string>(),
        JsonValueKind.True => "1",
        JsonValueKind.False => "0",
        _ => value.ToJsonString(),
    };

    public static bool IsNumber(string text) => NumberRe().IsMatch(text);

    public static bool IsInteger(string text) => IntegerRe().IsMatch(text);

    private static bool CheckType(string path, string? type, JsonNode value, Dictionary<string, string> errors)
    {
        if (type is null or "any")
        {
            return true;
        }

        var kind = value.GetValueKind();
        switch (type)
        {
            case "null":
                AddError(errors, path, $"type check ('{type}') failed - value is not null");
                return false;
            case "array":
                if (value is JsonArray)
                {
                    return true;
                }

                AddError(errors, path, $"type check ('{type}') failed");
                return false;
            case "object":
                if (value is JsonObject)
                {
                    return true;
                }

                AddError(errors, path, $"type check ('{type}') failed");
                return false;
        }

        // A Perl reference where a scalar is expected: only JSON booleans pass, and only for boolean.
        if (value is JsonObject or JsonArray || kind is JsonValueKind.True or JsonValueKind.False)
        {
            if (type == "boolean" && kind is JsonValueKind.True or JsonValueKind.False)
            {
                return true;
            }

            var perlRef = value switch
            {
                JsonObject => "HASH",
                JsonArray => "ARRAY",
                _ => "JSON::PP::Boolean",
            };
            AddError(errors, path, $"type check ('{type}') failed - got {perlRef}");
            return false;
        }

        var text = ScalarText(value);
        var ok = type switch
        {
            "boolean" => text is "1" or "0",
            "integer" => IsInteger(text),
            "number" => IsNumber(text),
            _ => true,
        };
        if (!ok)
        {
            AddError(errors, path, $"type check ('{type}') failed - got '{text}'");
        }

        return ok;
    }

    private static void CheckRequires(IReadOnlyDictionary<string, JsonNode?> values, JsonObject schema, string path, Dictionary<string, string> errors)
    {
        if (SchemaJson.String(schema, "requires") is { } requires && values.GetValueOrDefault(requires) is null)
        {
            var prefix = path.Contains('.') ? path[..path.LastIndexOf('.')] + "." : "";
            AddError(errors, prefix + requires, $"missing property required by '{path}'");
        }
    }

    private static Regex PatternFor(string perlPattern) => Patterns.GetOrAdd(perlPattern, p =>
    {
        // Perl's "(?^:...)" (default flags) and "(?^i:...)" have no caret in .NET.
        var dotnet = p.Replace("(?^:", "(?:", StringComparison.Ordinal).Replace("(?^", "(?", StringComparison.Ordinal);
        return new Regex($"^(?:{dotnet})$", RegexOptions.CultureInvariant);
    });

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    private static void AddError(Dictionary<string, string> errors, string path, string message)
    {
        path = path.Length == 0 ? "_root" : path;

        // Perl joins with a single-quoted '\n': a literal backslash-n, not a newline.
        errors[path] = errors.TryGetValue(path, out var existing) ? existing + "\\n" + message : message;
    }

    [GeneratedRegex(@"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$")]
    private static partial Regex NumberRe();

    [GeneratedRegex(@"^[+-]?\d+$")]
    private static partial Regex IntegerRe();
}
