namespace Ctrlable.Provisioner.Manifest;

/// <summary>
/// One pinned release (releases/&lt;release&gt;.yaml): the combination of component versions
/// validated together. Built only from a file that passed every check.
/// </summary>
public sealed record ReleaseManifest(
    string Release,
    string CommunityScriptsRef, // an upstream tag
    string? CommunityScriptsCommit, // the commit the tag pointed to when the release was validated; null: not pinned yet, so not buildable
    string ProxmoxMinVersion,
    ReleaseDecisions Decisions,
    IReadOnlyList<TemplateSpec> Templates); // in file order

/// <summary>The open product decisions, made explicit per release. Absent keys take the defaults.</summary>
public sealed record ReleaseDecisions(FrigatePlacement FrigatePlacement, FreePbxKind FreePbxKind, HaosUuidPolicy HaosUuidPolicy)
{
    public static ReleaseDecisions Default { get; } =
        new(FrigatePlacement.Separate, FreePbxKind.Lxc, HaosUuidPolicy.Regenerate);
}

/// <summary>YAML: separate | docker. Docker means Frigate runs inside docker-portainer.</summary>
public enum FrigatePlacement { Separate, Docker }

/// <summary>YAML: lxc | vm.</summary>
public enum FreePbxKind { Lxc, Vm }

/// <summary>YAML: regenerate | keep. Whether a site's Home Assistant gets a fresh core.uuid after the base restore.</summary>
public enum HaosUuidPolicy { Regenerate, Keep }

/// <summary>YAML: lxc | vm.</summary>
public enum TemplateKind { Lxc, Vm }

public sealed record TemplateSpec(
    string Name,
    TemplateKind Kind,
    string Builder,
    int Vmid,
    string? AppVersion,
    OsSpec Os,
    ResourceSpec Resources,
    bool Unprivileged,
    bool Portainer,
    string? HaosVersion,
    bool Rebrand,
    string? BaseBackup,
    string? HaosSha256 = null, // SHA-256 of haos_ova-<haos_version>.qcow2.xz; the build refuses an image without it
    string? BaseBackupSha256 = null); // SHA-256 of the base_backup file; storing the base backup refuses any other file

/// <summary>Base OS of an LXC template. Defaults to Debian 12 when the manifest omits it.</summary>
public sealed record OsSpec(string Distro, string Version)
{
    public static OsSpec Default { get; } = new("debian", "12");
}

/// <summary>YAML keys cpu, ram (MiB), disk (GB).</summary>
public sealed record ResourceSpec(int Cpu, int RamMiB, int DiskGb);
