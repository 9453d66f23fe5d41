using System.Globalization;
using System.Text.RegularExpressions;

namespace Ctrlable.Provisioner.Manifest;

/// <summary>
/// Walks the YAML tree into a <see cref="ManifestDraft"/> and checks the shape: known keys only,
/// value types, required keys. Meaning (ranges, formats, cross-checks) is left to
/// <see cref="ManifestDraftValidator"/>. Every path it visits is remembered with its position
/// so validator failures can be located too.
/// </summary>
internal sealed partial class ManifestReader(string file, List<ManifestError> errors)
{
    private static readonly string[] TopKeys =
        ["release", "community_scripts_ref", "community_scripts_commit", "proxmox_min_version", "vmid_base", "decisions", "templates"];
    private static readonly string[] DecisionKeys = ["frigate_placement", "freepbx_kind", "haos_uuid_policy"];
    private static readonly string[] TemplateKeys =
        ["kind", "builder", "vmid", "vmid_base", "app_version", "os", "resources", "unprivileged", "portainer", "haos_version", "haos_sha256", "rebrand", "base_backup", "base_backup_sha256"];
    private static readonly string[] OsKeys = ["distro", "version"];
    private static readonly string[] ResourceKeys = ["cpu", "ram", "disk"];

    // YAML path -> where to point for it: the value for scalars, the key for mappings and lists.
    private readonly Dictionary<string, Position> positions = new(StringComparer.Ordinal);
    private Position rootPosition = new(1, 1);

    /// <summary>Position of a path, or of its nearest located ancestor (a missing key is reported at the mapping that lacks it).</summary>
    public Position PositionOf(string path)
    {
        var current = path;
        while (current.Length > 0)
        {
            if (positions.TryGetValue(current, out var at))
            {
                return at;
            }

            var dot = current.LastIndexOf('.');
            current = dot < 0 ? "" : current[..dot];
        }

        return rootPosition;
    }

    public ManifestDraft? Read(YNode? root)
    {
        if (root is null or YScalar { IsNull: true })
        {
            var at = root?.Start ?? new Position(1, 1);
            Error(at, "", "the file is empty; a release manifest needs release, community_scripts_ref, proxmox_min_version and templates");
            return null;
        }

        if (root is not YMapping map)
        {
            Error(root.Start, "", $"expected a mapping of release settings at the top level, got {YamlTree.Describe(root)}");
            return null;
        }

        rootPosition = map.Start;
        var top = Fields(map, "", map.Start, TopKeys);
        var decisions = top.OptionalMapping("decisions") is { } decisionMap
            ? Fields(decisionMap, "decisions", PositionOf("decisions"), DecisionKeys)
            : null;

        var templates = ReadTemplates(top);
        var vmidBase = VmidBase(top, templates);
        return new ManifestDraft
        {
            Release = top.RequiredString("release"),
            CommunityScriptsRef = top.RequiredString("community_scripts_ref"),
            CommunityScriptsCommit = top.OptionalString("community_scripts_commit"),
            ProxmoxMinVersion = top.RequiredString("proxmox_min_version"),
            FrigatePlacement = decisions is null ? FrigatePlacement.Separate : decisions.OptionalEnum("frigate_placement", FrigatePlacement.Separate),
            FreePbxKind = decisions is null ? FreePbxKind.Lxc : decisions.OptionalEnum("freepbx_kind", FreePbxKind.Lxc),
            HaosUuidPolicy = decisions is null ? HaosUuidPolicy.Regenerate : decisions.OptionalEnum("haos_uuid_policy", HaosUuidPolicy.Regenerate),
            VmidBase = vmidBase,
            Templates = AssignVmids(templates, vmidBase),
        };
    }

    /// <summary>
    /// The release's vmid_base: at the top level, or — as the handoff spec wrote it — inside the first template, where it
    /// still means the whole release's base. Anywhere else it would read as "from this template on", which it is not.
    /// </summary>
    private int? VmidBase(MappingFields top, List<TemplateDraft> templates)
    {
        var atTop = top.OptionalInt("vmid_base");
        int? found = atTop;
        var foundAt = atTop is null ? null : "vmid_base";
        foreach (var (template, index) in templates.Select((t, i) => (t, i)))
        {
            if (template.VmidBaseHere is not { } value)
            {
                continue;
            }

            var path = template.Path + ".vmid_base";
            if (index > 0)
            {
                Error(PositionOf(path), path, $"vmid_base is the release's first template VMID and belongs at the top level (or in the first template); in '{template.Name}' it would read as a base for the templates from here on, which it is not");
            }
            else if (foundAt is not null)
            {
                Error(PositionOf(path), path, $"vmid_base is set twice (also at {foundAt}, line {PositionOf(foundAt).Line}): the release has one base; keep one");
            }
            else
            {
                (found, foundAt) = (value, path);
            }
        }

        return found;
    }

    /// <summary>Template VMIDs in file order from vmid_base (base + the template's place) where a template names none.</summary>
    private List<TemplateDraft> AssignVmids(List<TemplateDraft> templates, int? vmidBase)
    {
        var assigned = new List<TemplateDraft>(templates.Count);
        foreach (var (template, index) in templates.Select((t, i) => (t, i)))
        {
            if (template.VmidGiven)
            {
                assigned.Add(template);
            }
            else if (vmidBase is { } first)
            {
                assigned.Add(template with { Vmid = (int)Math.Min(int.MaxValue, (long)first + index), VmidFromBase = first });
            }
            else
            {
                Error(PositionOf(template.Path), template.Path + ".vmid",
                    "missing required key 'vmid' (or give the release a vmid_base: templates without a vmid then get base, base+1, ... in file order)");
                assigned.Add(template);
            }
        }

        return assigned;
    }

    private List<TemplateDraft> ReadTemplates(MappingFields top)
    {
        var templates = new List<TemplateDraft>();
        var node = top.Value("templates");
        if (node is null)
        {
            top.ReportMissing("templates");
            return templates;
        }

        if (node is YScalar { IsNull: true } or YMapping { Entries.Count: 0 })
        {
            Error(PositionOf("templates"), "templates", "templates must define at least one template");
            return templates;
        }

        if (node is not YMapping map)
        {
            Error(PositionOf("templates"), "templates", $"expected a mapping of template name to template, got {YamlTree.Describe(node)}");
            return templates;
        }

        foreach (var entry in map.Entries)
        {
            var path = YamlTree.Join("templates", entry.Key.Value);
            positions[path] = entry.Key.Start;
            if (entry.Value is not YMapping body)
            {
                Error(entry.Key.Start, path, $"expected a template mapping (kind, builder, vmid, resources, ...), got {YamlTree.Describe(entry.Value)}");
                continue;
            }

            templates.Add(ReadTemplate(entry.Key.Value, path, body));
        }

        return templates;
    }

    private TemplateDraft ReadTemplate(string name, string path, YMapping body)
    {
        var fields = Fields(body, path, PositionOf(path), TemplateKeys);
        var os = fields.OptionalMapping("os") is { } osMap ? Fields(osMap, path + ".os", PositionOf(path + ".os"), OsKeys) : null;
        var builder = fields.RequiredString("builder");

        // A Home Assistant OS VM without resources gets Home Assistant's minimums (SPEC §4); any other template names them.
        var haosDefaults = builder == ManifestRules.HaosBuilder && fields.Value("resources") is null or YScalar { IsNull: true };
        var resources = !haosDefaults && fields.RequiredMapping("resources") is { } resourceMap
            ? Fields(resourceMap, path + ".resources", PositionOf(path + ".resources"), ResourceKeys)
            : null;

        return new TemplateDraft
        {
            Name = name,
            Path = path,
            Kind = fields.RequiredEnum<TemplateKind>("kind"),
            Builder = builder,
            Vmid = fields.OptionalInt("vmid"),
            VmidGiven = fields.Value("vmid") is not (null or YScalar { IsNull: true }),
            VmidBaseHere = fields.OptionalInt("vmid_base"),
            AppVersion = fields.OptionalString("app_version"),
            Distro = os is null ? OsSpec.Default.Distro : os.OptionalString("distro", OsSpec.Default.Distro),
            OsVersion = os is null ? OsSpec.Default.Version : os.OptionalString("version", OsSpec.Default.Version),
            Cpu = haosDefaults ? ManifestRules.HaosDefaultCpu : resources?.RequiredInt("cpu"),
            RamMiB = haosDefaults ? ManifestRules.HaosDefaultRamMiB : resources?.RequiredInt("ram"),
            DiskGb = haosDefaults ? ManifestRules.HaosDefaultDiskGb : resources?.RequiredInt("disk"),
            ResourcesDefaulted = haosDefaults,
            Unprivileged = fields.OptionalBool("unprivileged", defaultValue: true),
            Portainer = fields.OptionalBool("portainer", defaultValue: false),
            HaosVersion = fields.OptionalString("haos_version"),
            HaosSha256 = fields.OptionalString("haos_sha256"),
            Rebrand = fields.OptionalBool("rebrand", defaultValue: false),
            BaseBackup = fields.OptionalString("base_backup"),
            BaseBackupSha256 = fields.OptionalString("base_backup_sha256"),
        };
    }

    /// <summary>Indexes a mapping's entries, rejecting keys outside <paramref name="allowed"/>.</summary>
    private MappingFields Fields(YMapping map, string path, Position at, string[] allowed)
    {
        var entries = new Dictionary<string, YEntry>(StringComparer.Ordinal);
        foreach (var entry in map.Entries)
        {
            var key = entry.Key.Value;
            var childPath = YamlTree.Join(path, key);
            if (!allowed.Contains(key, StringComparer.Ordinal))
            {
                var hint = KeySuggestion.Closest(key, allowed) is { } suggestion
                    ? $" (did you mean '{suggestion}'?)"
                    : $"; expected one of: {string.Join(", ", allowed)}";
                Error(entry.Key.Start, childPath, $"unknown key '{key}'{hint}");
                continue;
            }

            entries[key] = entry;
            positions[childPath] = entry.Value is YScalar { IsNull: false } scalar ? scalar.Start : entry.Key.Start;
        }

        return new MappingFields(this, path, at, entries);
    }

    private void Error(Position at, string path, string message) =>
        errors.Add(new ManifestError(file, at.Line, at.Column, path, message));

    // YAML 1.2 core-schema decimal integer; hex, octal and '_' separators are not worth supporting here.
    [GeneratedRegex(@"^[-+]?[0-9]+\z")]
    private static partial Regex DecimalInteger();

    /// <summary>Typed access to one mapping's known keys. Each accessor reports its own problems and returns null for them.</summary>
    private sealed class MappingFields(ManifestReader reader, string path, Position at, Dictionary<string, YEntry> entries)
    {
        /// <summary>The raw value node, or null when the key is absent.</summary>
        public YNode? Value(string key) => entries.TryGetValue(key, out var entry) ? entry.Value : null;

        public void ReportMissing(string key) =>
            reader.Error(at, Child(key), $"missing required key '{key}'");

        /// <summary>The text, <paramref name="defaultValue"/> when absent, null when not a scalar.</summary>
        public string? OptionalString(string key, string? defaultValue = null) =>
            Present(key) is { } node ? AsString(key, node) : defaultValue;

        public string? RequiredString(string key) => Required(key) is { } node ? AsString(key, node) : null;

        public int? RequiredInt(string key) => Required(key) is { } node ? AsInt(key, node) : null;

        /// <summary>The integer, null when absent (or when not an integer, which is reported).</summary>
        public int? OptionalInt(string key) => Present(key) is { } node ? AsInt(key, node) : null;

        private int? AsInt(string key, YNode node)
        {
            if (node is YScalar { IsPlain: true } scalar && DecimalInteger().IsMatch(scalar.Value)
                && int.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }

            var hint = node is YScalar { IsPlain: false } ? "; write numbers without quotes" : "";
            TypeError(key, node, "an integer", hint);
            return null;
        }

        public bool? OptionalBool(string key, bool defaultValue)
        {
            if (Present(key) is not { } node)
            {
                return defaultValue;
            }

            // YAML 1.1's yes/no/on/off are deliberately not booleans: 'no' meaning false surprises people.
            switch (node)
            {
                case YScalar { IsPlain: true, Value: "true" or "True" or "TRUE" }:
                    return true;
                case YScalar { IsPlain: true, Value: "false" or "False" or "FALSE" }:
                    return false;
                default:
                    TypeError(key, node, "true or false", "");
                    return null;
            }
        }

        public T? OptionalEnum<T>(string key, T defaultValue) where T : struct, Enum =>
            Present(key) is { } node ? AsEnum<T>(key, node) : defaultValue;

        public T? RequiredEnum<T>(string key) where T : struct, Enum =>
            Required(key) is { } node ? AsEnum<T>(key, node) : null;

        /// <summary>A nested mapping; absent or null means "use the defaults".</summary>
        public YMapping? OptionalMapping(string key) => Present(key) is { } node ? AsMapping(key, node) : null;

        public YMapping? RequiredMapping(string key) => Required(key) is { } node ? AsMapping(key, node) : null;

        // An explicit null ("key:" or "key: ~") counts as absent.
        private YNode? Present(string key) => Value(key) is { } node and not YScalar { IsNull: true } ? node : null;

        private YNode? Required(string key)
        {
            var node = Value(key);
            if (node is null)
            {
                ReportMissing(key);
                return null;
            }

            if (node is YScalar { IsNull: true })
            {
                reader.Error(reader.PositionOf(Child(key)), Child(key), $"'{key}' is required but has no value");
                return null;
            }

            return node;
        }

        private string? AsString(string key, YNode node)
        {
            // Any scalar is text here, so `version: 12` and `haos_version: 15.1` read as "12" and "15.1".
            if (node is YScalar scalar)
            {
                return scalar.Value;
            }

            TypeError(key, node, "a string", "");
            return null;
        }

        private T? AsEnum<T>(string key, YNode node) where T : struct, Enum
        {
            var allowed = Enum.GetValues<T>().Select(v => (Name: ManifestRules.YamlName(v), Value: v)).ToList();
            var names = string.Join(", ", allowed.Select(a => a.Name));
            if (node is YScalar scalar)
            {
                foreach (var (name, value) in allowed)
                {
                    if (string.Equals(name, scalar.Value, StringComparison.Ordinal))
                    {
                        return value;
                    }
                }

                reader.Error(reader.PositionOf(Child(key)), Child(key), $"unknown value '{scalar.Value}' for {key}; allowed: {names}");
                return null;
            }

            TypeError(key, node, "one of " + names, "");
            return null;
        }

        private YMapping? AsMapping(string key, YNode node)
        {
            if (node is YMapping mapping)
            {
                return mapping;
            }

            TypeError(key, node, "a mapping", "");
            return null;
        }

        private void TypeError(string key, YNode node, string expected, string hint) =>
            reader.Error(reader.PositionOf(Child(key)), Child(key), $"expected {expected}, got {YamlTree.Describe(node)}{hint}");

        private string Child(string key) => YamlTree.Join(path, key);
    }
}
