using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Hosting;

/// <summary>
/// Dependencies point one way: features own their setup and the host only calls it, so no feature reaches into
/// Hosting (beyond the web pipeline's endpoint pieces), and Auth knows none of the features that use it.
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

    private static IEnumerable<(string Path, string Namespace, string Code)> ProductSources()
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
