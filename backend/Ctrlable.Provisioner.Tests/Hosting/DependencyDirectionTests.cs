using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Hosting;

/// <summary>
/// Dependencies point one way: features own their setup and the host only calls it, so no feature reaches into
/// Hosting (beyond the web pipeline's endpoint pieces), Auth knows none of the features that use it, and no two
/// namespaces depend on each other, directly or round a loop.
/// Read from the product's sources: a <c>using</c> or a qualified name of another namespace's type is a dependency.
/// </summary>
public sealed partial class DependencyDirectionTests
{
    private const string Root = "Ctrlable.Provisioner";

    /// <summary>Hosting types an endpoint may use: its body limit, its request validation and its API-docs body are web-pipeline pieces.</summary>
    private static readonly HashSet<string> EndpointPieces = ["RequestBodyLimits", "RequestBodyLimit", "ValidationFilter", "MultipartFormBody"];

    [Fact]
    public void No_feature_reaches_into_hosting_beyond_the_endpoint_pieces()
    {
        var hostingOnly = TypesOf("Hosting").Except(EndpointPieces).ToList();

        var offenders = ProductSources()
            .Where(f => f.Namespace != $"{Root}.Hosting" && f.Namespace != Root)
            .SelectMany(f => hostingOnly.Where(t => Regex.IsMatch(f.Code, $@"\b{t}\b")).Select(t => $"{f.Path}: {t}"))
            .ToList();

        offenders.Should().BeEmpty("features register themselves and read JSON settings from State, not from Hosting");
    }

    [Fact]
    public void Auth_depends_on_no_feature_that_uses_it()
    {
        var auth = DependenciesOf("Auth");

        auth.Should().NotContain("Build", "Build registers its ticket prefix with the API token scheme, Auth names no feature");
        DependenciesOf("Build").Should().Contain("Auth");
    }

    [Fact]
    public void Json_defaults_and_the_shared_resilience_are_leaves()
    {
        DependenciesOf("State").Should().BeSubsetOf(["Config"]);
        DependenciesOf("Http").Should().BeEmpty();
        DependenciesOf("Config").Should().BeEmpty();
    }

    [Fact]
    public void No_namespace_cycle_between_feature_folders()
    {
        // A feature's own sub-namespaces (HomeAssistant.Setup of HomeAssistant) are one folder with it; Hosting is the
        // composition root that calls every feature's AddX/MapX (its endpoint pieces are the one way back, above).
        var namespaces = Namespaces().Where(ns => ns != "Hosting").ToList();
        var edges = namespaces.ToDictionary(
            ns => ns,
            ns => DependenciesOf(ns).Where(d => d != "Hosting" && !SameFolder(ns, d)).ToHashSet());

        var cycles = StronglyConnected(namespaces, edges).Where(c => c.Count > 1)
            .Select(c => string.Join(" <-> ", c.Order(StringComparer.Ordinal)) + ": " + string.Join(", ", c.Order(StringComparer.Ordinal).SelectMany(from => edges[from].Where(c.Contains).Select(to => $"{from} -> {to}"))))
            .ToList();

        string.Join("\n", cycles).Should().BeEmpty("a shared type lives with the side that owns the fact, or the lower layer owns an interface the upper one implements");
    }

    [Fact]
    public void The_cycle_check_sees_a_cycle()
    {
        var edges = new Dictionary<string, HashSet<string>> { ["A"] = ["B"], ["B"] = ["C"], ["C"] = ["A"], ["D"] = ["A"] };

        StronglyConnected(["A", "B", "C", "D"], edges).Where(c => c.Count > 1).Should().ContainSingle().Which.Should().BeEquivalentTo(["A", "B", "C"]);
    }

    private static bool SameFolder(string a, string b) =>
        a.StartsWith(b + ".", StringComparison.Ordinal) || b.StartsWith(a + ".", StringComparison.Ordinal);

    private static IEnumerable<string> Namespaces() =>
        typeof(Program).Assembly.GetTypes()
            .Where(t => t.Namespace?.StartsWith(Root + ".", StringComparison.Ordinal) == true && !t.IsNested)
            .Select(t => t.Namespace![(Root.Length + 1)..])
            .Distinct();

    /// <summary>Tarjan's strongly connected components: each holds folders that reach one another.</summary>
    private static List<List<string>> StronglyConnected(IReadOnlyList<string> nodes, IReadOnlyDictionary<string, HashSet<string>> edges)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var components = new List<List<string>>();

        void Visit(string node)
        {
            index[node] = low[node] = index.Count;
            stack.Push(node);
            onStack.Add(node);
            foreach (var next in edges.GetValueOrDefault(node) ?? [])
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (onStack.Contains(next))
                {
                    low[node] = Math.Min(low[node], index[next]);
                }
            }

            if (low[node] == index[node])
            {
                var component = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    component.Add(member);
                }
                while (member != node);
                components.Add(component);
            }
        }

        foreach (var node in nodes.Where(n => !index.ContainsKey(n)))
        {
            Visit(node);
        }

        return components;
    }

    private static HashSet<string> DependenciesOf(string feature)
    {
        var names = typeof(Program).Assembly.GetTypes()
            .Where(t => t.Namespace?.StartsWith(Root + ".", StringComparison.Ordinal) == true && !t.IsNested)
            .Select(t => t.Namespace![(Root.Length + 1)..])
            .Distinct()
            .Where(ns => ns != feature && !ns.StartsWith(feature + ".", StringComparison.Ordinal))
            .ToList();
        var result = new HashSet<string>();
        foreach (var file in ProductSources().Where(f => f.Namespace == $"{Root}.{feature}"))
        {
            foreach (var other in names)
            {
                var qualified = TypesOf(other).Any(t => Regex.IsMatch(file.Code, $@"(?<![\w.]){Regex.Escape(other)}\.{t}\b"));
                if (qualified || file.Code.Contains($"using {Root}.{other};", StringComparison.Ordinal)
                    || file.Code.Contains($"{Root}.{other}.", StringComparison.Ordinal))
                {
                    result.Add(other);
                }
            }
        }

        return result;
    }

    private static IEnumerable<string> TypesOf(string ns) =>
        typeof(Program).Assembly.GetTypes()
            .Where(t => t.Namespace == $"{Root}.{ns}" && !t.IsNested && !t.Name.Contains('<', StringComparison.Ordinal))
            .Select(t => t.Name.Split('`')[0])
            .Distinct();

    // Read once for every test of the class: the cycle check asks for each namespace's dependencies.
    private static readonly Lazy<List<(string Path, string Namespace, string Code)>> Sources = new(() => [.. ReadProductSources()]);

    private static List<(string Path, string Namespace, string Code)> ProductSources() => Sources.Value;

    private static IEnumerable<(string Path, string Namespace, string Code)> ReadProductSources()
    {
        var product = RepoPaths.Product;
        foreach (var path in Directory.EnumerateFiles(product, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(product, path);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin", StringComparison.Ordinal))
            {
                continue;
            }

            var text = File.ReadAllText(path);
            var ns = Namespace().Match(text) is { Success: true } m ? m.Groups[1].Value : Root;
            // Comments name other namespaces freely; only code is a dependency.
            var code = string.Join('\n', text.Split('\n').Where(l => !l.TrimStart().StartsWith("//", StringComparison.Ordinal)));
            yield return (relative, ns, code);
        }
    }

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex Namespace();
}
