using System.Text.Json.Nodes;

namespace Ctrlable.HaSim.Flows;

internal enum FieldKind
{
    /// <summary><c>str</c>: <c>{"type":"string"}</c>.</summary>
    String,

    /// <summary><c>bool</c>: <c>{"type":"boolean"}</c>.</summary>
    Boolean,

    /// <summary>TextSelector.</summary>
    Text,

    /// <summary>TextSelector(type=password).</summary>
    Password,

    /// <summary>NumberSelector(mode=box, 1..65535), coerced to int.</summary>
    Port,
}

/// <summary>One voluptuous schema key of a form step.</summary>
internal sealed record FlowField(string Name, FieldKind Kind, bool Required, JsonNode? Default = null);

/// <summary>User input that does not fit the step's schema (HTTP 400 "User input malformed: …").</summary>
internal sealed class FlowInputException(string message) : Exception(message);

/// <summary>Serialises and validates form schemas as voluptuous / voluptuous_serialize do.</summary>
internal static class FlowSchema
{
    public static JsonArray Serialize(IReadOnlyList<FlowField> fields)
    {
        var list = new JsonArray();
        foreach (var f in fields)
        {
            var o = new JsonObject();
            switch (f.Kind)
            {
                case FieldKind.String:
                    o["type"] = "string";
                    break;
                case FieldKind.Boolean:
                    o["type"] = "boolean";
                    break;
            }

            o["name"] = f.Name;
            o[f.Required ? "required" : "optional"] = true;
            if (f.Default is not null)
            {
                o["default"] = f.Default.DeepClone();
            }

            switch (f.Kind)
            {
                case FieldKind.Text:
                    o["selector"] = new JsonObject { ["text"] = new JsonObject { ["multiline"] = false, ["multiple"] = false } };
                    break;
                case FieldKind.Password:
                    o["selector"] = new JsonObject { ["text"] = new JsonObject { ["type"] = "password", ["multiline"] = false, ["multiple"] = false } };
                    break;
                case FieldKind.Port:
                    o["selector"] = new JsonObject { ["number"] = new JsonObject { ["mode"] = "box", ["step"] = 1, ["min"] = 1, ["max"] = 65535 } };
                    break;
            }

            list.Add(o);
        }

        return list;
    }

    /// <summary>Validated input with defaults filled in; <see cref="FlowInputException"/> with voluptuous's wording.</summary>
    public static JsonObject Validate(IReadOnlyList<FlowField> fields, JsonObject input)
    {
        foreach (var (key, _) in input)
        {
            if (fields.All(f => f.Name != key))
            {
                throw new FlowInputException($"extra keys not allowed @ data['{key}']");
            }
        }

        var output = new JsonObject();
        foreach (var f in fields)
        {
            var value = input[f.Name];
            if (value is null)
            {
                if (f.Default is not null)
                {
                    output[f.Name] = f.Default.DeepClone();
                }
                else if (f.Required)
                {
                    throw new FlowInputException($"required key not provided @ data['{f.Name}']");
                }

                continue;
            }

            output[f.Name] = f.Kind switch
            {
                FieldKind.Boolean => value.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False
                    ? value.GetValue<bool>()
                    : throw new FlowInputException($"expected bool for dictionary value @ data['{f.Name}']"),
                FieldKind.Port => Port(f.Name, value),
                _ => value.GetValueKind() == System.Text.Json.JsonValueKind.String
                    ? value.GetValue<string>()
                    : throw new FlowInputException($"expected str for dictionary value @ data['{f.Name}']"),
            };
        }

        return output;
    }

    private static int Port(string name, JsonNode value)
    {
        double number;
        if (value.GetValueKind() == System.Text.Json.JsonValueKind.Number)
        {
            number = value.GetValue<double>();
        }
        else if (value.GetValueKind() != System.Text.Json.JsonValueKind.String
            || !double.TryParse(value.GetValue<string>(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out number))
        {
            throw new FlowInputException($"expected float for dictionary value @ data['{name}']");
        }

        return number is < 1 or > 65535
            ? throw new FlowInputException($"value must be at most 65535 for dictionary value @ data['{name}']")
            : (int)number;
    }
}
