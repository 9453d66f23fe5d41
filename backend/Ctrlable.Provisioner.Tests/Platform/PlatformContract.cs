using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Json.Schema;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ctrlable.Provisioner.Tests.Platform;

/// <summary>
/// docs/platform-api.yaml, read as the fake platform's source of truth: its component schemas (OpenAPI 3.1 schemas
/// are JSON Schema 2020-12) validate every body the orchestrator sends and every answer the fake gives.
/// </summary>
internal static partial class PlatformContract
{
    public static string DocumentPath => Path.Combine(RepoPaths.Root, "docs", "platform-api.yaml");

    public static JsonObject Document { get; } = Load();

    // Lazy: building registers the schema's URI globally, so two tests asking at once must not both build it.
    private static readonly ConcurrentDictionary<string, Lazy<JsonSchema>> Schemas = new(StringComparer.Ordinal);

    /// <summary>Every problem of <paramref name="body"/> against <c>#/components/schemas/{schema}</c>; empty = valid.</summary>
    public static IReadOnlyList<string> Validate(string schema, JsonElement body)
    {
        var results = Schemas.GetOrAdd(schema, name => new Lazy<JsonSchema>(() => Build(name))).Value.Evaluate(body, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid)
        {
            return [];
        }

        return [.. (results.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{schema}{d.InstanceLocation}: {e.Key}: {e.Value}"))
            .DefaultIfEmpty($"{schema}: invalid")];
    }

    /// <summary>The paths and methods the document defines, e.g. "POST /v1/enrolments".</summary>
    public static IReadOnlySet<string> Operations { get; } =
        Document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(m => $"{m.Key.ToUpperInvariant()} {p.Key}")).ToHashSet(StringComparer.Ordinal);

    private static JsonSchema Build(string name)
    {
        var components = Document["components"]!["schemas"]!.AsObject();
        if (!components.ContainsKey(name))
        {
            throw new ArgumentException($"docs/platform-api.yaml has no schema {name}", nameof(name));
        }

        // One 2020-12 schema per component: every component under $defs, component refs pointed there.
        var defs = RewriteRefs(components.DeepClone());
        var schema = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["$defs"] = defs,
            ["$ref"] = $"#/$defs/{name}",
        };
        return JsonSchema.FromText(schema.ToJsonString(), baseUri: new Uri($"https://platform.ctrlable.test/contract/{name}"));
    }

    private static JsonNode RewriteRefs(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (key == "$ref" && value is JsonValue reference)
                    {
                        obj[key] = reference.GetValue<string>().Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal);
                    }
                    else if (value is not null)
                    {
                        RewriteRefs(value);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is not null)
                    {
                        RewriteRefs(item);
                    }
                }

                break;
        }

        return node;
    }

    private static JsonObject Load()
    {
        var yaml = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(DocumentPath)))
        {
            yaml.Load(reader);
        }

        return (JsonObject)ToJson(yaml.Documents[0].RootNode)!;
    }

    /// <summary>YAML 1.2 core schema: plain scalars may be null, booleans or numbers; quoted ones are strings.</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(ToJson)]),
        YamlScalarNode { Style: not ScalarStyle.Plain } scalar => JsonValue.Create(scalar.Value),
        YamlScalarNode { Value: null or "" or "~" or "null" } => null,
        YamlScalarNode { Value: "true" } => JsonValue.Create(true),
        YamlScalarNode { Value: "false" } => JsonValue.Create(false),
        YamlScalarNode scalar when Integer().IsMatch(scalar.Value!) => JsonValue.Create(long.Parse(scalar.Value!, CultureInfo.InvariantCulture)),
        YamlScalarNode scalar when Float().IsMatch(scalar.Value!) => JsonValue.Create(double.Parse(scalar.Value!, CultureInfo.InvariantCulture)),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new InvalidOperationException($"Unsupported YAML node at {node.Start}"),
    };

    [GeneratedRegex("^-?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();
}
