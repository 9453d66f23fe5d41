using System.Globalization;
using Ctrlable.PveSim.Guests;
using YamlDotNet.RepresentationModel;

namespace Ctrlable.PveSim.Seeding;

/// <summary>
/// Reads the <c>templates:</c> map of a Ctrlable release manifest (kind, vmid, resources) into template
/// seeds, so the standalone demo has the release's templates to clone. Only those fields are read.
/// </summary>
public static class ReleaseManifest
{
    public static IReadOnlyList<TemplateSeed> Templates(string yaml, string? pool = null)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        if (!root.Children.TryGetValue(new YamlScalarNode("templates"), out var templatesNode) || templatesNode is not YamlMappingNode templates)
        {
            return [];
        }

        var result = new List<TemplateSeed>();
        foreach (var (nameNode, valueNode) in templates.Children)
        {
            if (valueNode is not YamlMappingNode t)
            {
                continue;
            }

            string? Scalar(YamlMappingNode map, string key) =>
                map.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlScalarNode s ? s.Value : null;
            int Int(YamlMappingNode? map, string key, int fallback) =>
                map is not null && int.TryParse(Scalar(map, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : fallback;

            var resources = t.Children.TryGetValue(new YamlScalarNode("resources"), out var r) ? r as YamlMappingNode : null;
            var kind = Scalar(t, "kind") == "vm" ? GuestKind.Qemu : GuestKind.Lxc;
            result.Add(new TemplateSeed(Int(t, "vmid", 9000 + result.Count), ((YamlScalarNode)nameNode).Value!, kind, Int(resources, "disk", 8), FirstBoot: true)
            {
                Cores = Int(resources, "cpu", 2),
                MemoryMiB = Int(resources, "ram", 2048),
                Pool = pool,
                Unprivileged = Scalar(t, "unprivileged") != "false",
            });
        }

        return result;
    }
}
