using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Schema;

/// <summary>
/// Checks a response's <c>data</c> against an endpoint's <c>returns</c> schema, with the tolerance real
/// Proxmox needs (Perl emits numbers as strings at times, booleans as 0/1): integers and numbers may be
/// numeric strings, booleans may be 0/1. Everything else is strict: required members, declared types,
/// enums, and no extra members where the schema forbids them.
/// </summary>
public static class ReturnsValidator
{
    public static IReadOnlyList<string> Validate(JsonNode? data, JsonNode? returns)
    {
        var problems = new List<string>();
        if (returns is JsonObject schema)
        {
            Check(data, schema, "data", problems);
        }

        return problems;
    }

    private static void Check(JsonNode? value, JsonObject schema, string path, List<string> problems)
    {
        var type = SchemaJson.String(schema, "type");
        if (value is null)
        {
            if (type is not (null or "null" or "any") && !SchemaJson.Flag(schema, "optional"))
            {
                problems.Add($"{path}: null where {type} expected");
            }

            return;
        }

        var kind = value.GetValueKind();
        switch (type)
        {
            case "null":
                problems.Add($"{path}: expected null, got {kind}");
                return;
            case "array":
                if (value is not JsonArray array)
                {
                    problems.Add($"{path}: expected array, got {kind}");
                    return;
                }

                if (schema["items"] is JsonObject items)
                {
                    for (var i = 0; i < array.Count; i++)
                    {
                        Check(array[i], items, $"{path}[{i}]", problems);
                    }
                }

                return;
            case "object":
                if (value is not JsonObject obj)
                {
                    problems.Add($"{path}: expected object, got {kind}");
                    return;
                }

                var properties = schema["properties"] as JsonObject ?? [];
                foreach (var (name, sub) in properties)
                {
                    if (sub is not JsonObject subSchema || name.EndsWith("[n]", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    if (obj[name] is { } member)
                    {
                        Check(member, subSchema, $"{path}.{name}", problems);
                    }
                    else if (!obj.ContainsKey(name) && !SchemaJson.Flag(subSchema, "optional"))
                    {
                        problems.Add($"{path}.{name}: required member missing");
                    }
                }

                // additionalProperties as a schema (a map such as a user's tokens): every other member must match it.
                if (schema["additionalProperties"] is JsonObject memberSchema)
                {
                    foreach (var (name, member) in obj.Where(p => properties[p.Key] is null && p.Value is not null))
                    {
                        Check(member!, memberSchema, $"{path}.{name}", problems);
                    }
                }
                else if (schema["additionalProperties"] is { } additional && !SchemaJson.IsTrue(additional))
                {
                    foreach (var name in obj.Select(p => p.Key).Where(n => properties[n] is null && !IsFamilyMember(properties, n)))
                    {
                        problems.Add($"{path}.{name}: not allowed by the schema");
                    }
                }

                return;
            case "integer":
                if (!(kind == JsonValueKind.Number && ParameterValidator.IsInteger(value.ToJsonString()))
                    && !(kind == JsonValueKind.String && ParameterValidator.IsInteger(value.GetValue<string>())))
                {
                    problems.Add($"{path}: expected integer, got {value.ToJsonString()}");
                }

                break;
            case "number":
                if (kind != JsonValueKind.Number && !(kind == JsonValueKind.String && ParameterValidator.IsNumber(value.GetValue<string>())))
                {
                    problems.Add($"{path}: expected number, got {value.ToJsonString()}");
                }

                break;
            case "boolean":
                if (kind is not (JsonValueKind.True or JsonValueKind.False)
                    && !(kind == JsonValueKind.Number && value.ToJsonString() is "0" or "1")
                    && !(kind == JsonValueKind.String && value.GetValue<string>() is "0" or "1"))
                {
                    problems.Add($"{path}: expected boolean, got {value.ToJsonString()}");
                }

                break;
            case "string":
                if (kind != JsonValueKind.String)
                {
                    problems.Add($"{path}: expected string, got {value.ToJsonString()}");
                }

                break;
        }

        if (schema["enum"] is JsonArray values && kind == JsonValueKind.String
            && values.All(v => SchemaJson.Text(v!) != value.GetValue<string>()))
        {
            problems.Add($"{path}: '{value.GetValue<string>()}' is not one of {values.ToJsonString()}");
        }
    }

    private static bool IsFamilyMember(JsonObject properties, string name)
    {
        var prefix = new string(name.TakeWhile(c => !char.IsAsciiDigit(c)).ToArray());
        return prefix.Length < name.Length && properties[prefix + "[n]"] is not null;
    }
}
