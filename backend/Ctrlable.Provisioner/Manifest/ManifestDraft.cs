namespace Ctrlable.Provisioner.Manifest;

/// <summary>
/// What the reader could take from the YAML, before the semantic checks. A null field means
/// "absent or unusable" (the reader already reported why); defaults are filled in by the reader.
/// </summary>
internal sealed record ManifestDraft
{
    public string? Release { get; init; }
    public string? CommunityScriptsRef { get; init; }
    public string? CommunityScriptsCommit { get; init; }
    public string? ProxmoxMinVersion { get; init; }
    public FrigatePlacement? FrigatePlacement { get; init; }
    public FreePbxKind? FreePbxKind { get; init; }
    public HaosUuidPolicy? HaosUuidPolicy { get; init; }

    /// <summary>The release's vmid_base (top level, or in the first template), if any.</summary>
    public int? VmidBase { get; init; }
    public IReadOnlyList<TemplateDraft> Templates { get; init; } = [];
}

internal sealed record TemplateDraft
{
    public required string Name { get; init; }

    /// <summary>YAML path of the template, "templates.&lt;name&gt;"; validators hang field names off it.</summary>
    public required string Path { get; init; }

    public TemplateKind? Kind { get; init; }
    public string? Builder { get; init; }
    /// <summary>The template's VMID: its own, or vmid_base + its place in the file (<see cref="VmidFromBase"/> then says which base).</summary>
    public int? Vmid { get; init; }

    /// <summary>The template has a vmid value (valid or not); an empty "vmid:" counts as absent.</summary>
    public bool VmidGiven { get; init; }

    /// <summary>The vmid_base this VMID was counted from, when the template names none.</summary>
    public int? VmidFromBase { get; init; }

    /// <summary>A vmid_base written inside this template (the spec's form); the reader turns it into the release's base.</summary>
    public int? VmidBaseHere { get; init; }
    public string? AppVersion { get; init; }
    public string? Distro { get; init; }
    public string? OsVersion { get; init; }
    public int? Cpu { get; init; }
    public int? RamMiB { get; init; }
    public int? DiskGb { get; init; }

    /// <summary>No resources in the file: a Home Assistant OS VM got Home Assistant's minimums.</summary>
    public bool ResourcesDefaulted { get; init; }
    public bool? Unprivileged { get; init; }
    public bool? Portainer { get; init; }
    public string? HaosVersion { get; init; }
    public string? HaosSha256 { get; init; }
    public bool? Rebrand { get; init; }
    public string? BaseBackup { get; init; }
    public string? BaseBackupSha256 { get; init; }
}
