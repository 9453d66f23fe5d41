using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Schema;

/// <summary>
/// The official API schema of one Proxmox VE release (apidata.js of pve-docs, unmodified), indexed so a
/// concrete request path resolves to its endpoint definition the way pve-http-server's find_handler does.
/// </summary>
public sealed class PveSchema
{
    private static readonly ConcurrentDictionary<PveVersion, PveSchema> Cache = new();

    private readonly PathNode _root = new("/");
    private readonly Dictionary<string, PathNode> _byTemplate = new(StringComparer.Ordinal);

    private PveSchema(PveVersion version, JsonArray tree)
    {
        Version = version;
        _byTemplate["/"] = _root;
        foreach (var node in tree)
        {
            AddTree(node!.AsObject());
        }
    }

    public PveVersion Version { get; }

    /// <summary>Every (method, path template) the schema defines.</summary>
    public IEnumerable<SchemaEndpoint> Endpoints =>
        _byTemplate.Values.SelectMany(n => n.Methods.Values);

    public static PveSchema Load(PveVersion version) => Cache.GetOrAdd(version, Read);

    public SchemaEndpoint? Find(string method, string pathTemplate) =>
        _byTemplate.TryGetValue(pathTemplate, out var node) && node.Methods.TryGetValue(method, out var ep) ? ep : null;

    public bool HasPath(string pathTemplate) => _byTemplate.ContainsKey(pathTemplate);

    /// <summary>
    /// Resolves a concrete relative path (e.g. <c>/nodes/pve1/lxc/105/config</c>) to its template and the
    /// values of its <c>{placeholders}</c>. Literal segments win over placeholders, as in Proxmox.
    /// </summary>
    public (string Template, IReadOnlyDictionary<string, string> UriParams)? Match(string relPath)
    {
        var segments = relPath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var uriParams = new Dictionary<string, string>(StringComparer.Ordinal);
        var node = MatchFrom(_root, segments, 0, uriParams);
        return node is null ? null : (node.Template, uriParams);
    }

    private static PathNode? MatchFrom(PathNode node, string[] segments, int index, Dictionary<string, string> uriParams)
    {
        if (index == segments.Length)
        {
            return node;
        }

        if (node.Literal.TryGetValue(segments[index], out var literal))
        {
            var found = MatchFrom(literal, segments, index + 1, uriParams);
            if (found is not null)
            {
                return found;
            }
        }

        foreach (var (param, child) in node.Variables)
        {
            // A value may carry an escaped '/' (a volume id such as local:backup%2Fvzdump-…): the server sees it unescaped.
            uriParams[param] = Uri.UnescapeDataString(segments[index]);
            var found = MatchFrom(child, segments, index + 1, uriParams);
            if (found is not null)
            {
                return found;
            }

            uriParams.Remove(param);
        }

        return null;
    }

    private void AddTree(JsonObject element)
    {
        var path = (string)element["path"]!;
        var node = GetOrCreate(path);
        if (element["info"] is JsonObject info)
        {
            foreach (var (method, def) in info)
            {
                node.Methods[method] = new SchemaEndpoint(method, path, def!.AsObject());
            }
        }

        if (element["children"] is JsonArray children)
        {
            foreach (var child in children)
            {
                AddTree(child!.AsObject());
            }
        }
    }

    private PathNode GetOrCreate(string template)
    {
        if (_byTemplate.TryGetValue(template, out var existing))
        {
            return existing;
        }

        var node = _root;
        var built = "";
        foreach (var segment in template.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            built += "/" + segment;
            if (segment.StartsWith('{') && segment.EndsWith('}'))
            {
                var param = segment[1..^1];
                var variable = node.Variables.FirstOrDefault(v => v.Param == param).Node;
                if (variable is null)
                {
                    variable = new PathNode(built);
                    node.Variables.Add((param, variable));
                }

                node = variable;
            }
            else
            {
                if (!node.Literal.TryGetValue(segment, out var literal))
                {
                    literal = new PathNode(built);
                    node.Literal[segment] = literal;
                }

                node = literal;
            }

            _byTemplate.TryAdd(built, node);
        }

        return node;
    }

    private static PveSchema Read(PveVersion version)
    {
        var resource = version.SchemaResource();
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded schema '{resource}' is missing");
        var tree = JsonNode.Parse(stream)!.AsArray();
        return new PveSchema(version, tree);
    }

    private sealed class PathNode(string template)
    {
        public string Template { get; } = template;

        public Dictionary<string, SchemaEndpoint> Methods { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, PathNode> Literal { get; } = new(StringComparer.Ordinal);

        public List<(string Param, PathNode Node)> Variables { get; } = [];
    }
}
