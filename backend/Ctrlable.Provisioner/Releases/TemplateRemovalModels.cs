using System.ComponentModel;

namespace Ctrlable.Provisioner.Releases;

/// <summary>A guest whose disk is a linked clone of a template's base volume, as the storage names it.</summary>
public sealed record BaseVolumeHolder(
    int Vmid,
    string? Name,
    string? Node,
    [property: Description("lxc or qemu.")]
    string Kind,
    [property: Description("The holder's volume that names the base volume, e.g. local-zfs:basevol-9101-disk-0/subvol-1001-disk-0.")]
    string Volume);

/// <summary>
/// Where a recorded template stands for removal. Wire: present (proven the orchestrator's: its build's run id and MAC
/// address are on it), gone (its VMID holds nothing any more), foreign (its VMID holds a guest without that proof: not
/// the template this release recorded; left alone), unproven (recorded before the orchestrator kept the proof, or the
/// host did not vouch for it: left alone, remove it by hand).
/// </summary>
public enum RecordedTemplateState { Present, Gone, Foreign, Unproven }

public sealed record ReleaseTemplate(
    string Name,
    string Kind,
    long Vmid,
    string Node,
    RecordedTemplateState State,
    [property: Description("Removing the release's templates would destroy this one (present, and no guest holds its base volume).")]
    bool Removable,
    [property: Description("Why it is not removed or is left alone; null when removable.")]
    string? Reason,
    [property: Description("Guests whose disks are linked clones of its base volume (ZFS, Ceph RBD, directory-type storages name it; LVM-thin and btrfs clones do not depend on it). Only guests the orchestrator's token can see.")]
    IReadOnlyList<BaseVolumeHolder> Holders);

public sealed record ReleaseTemplates(
    string Release,
    bool Active,
    [property: Description("When the release's last recorded template was removed; null when it has templates or was built again since.")]
    DateTimeOffset? TemplatesRemovedAt,
    string? TemplatesRemovedBy,
    IReadOnlyList<ReleaseTemplate> Templates,
    [property: Description("When the orchestrator removes the proven templates by itself (Releases:RemoveTemplatesAfterDays after the release stopped being active; the same refusals apply, and a refused removal is tried again every round); null when that is off or the release is active.")]
    DateTimeOffset? RemoveAutomaticallyAt = null);

/// <summary>What happened to one recorded template in a removal. Wire: removed, forgotten (gone or foreign: only the record went), kept (unproven: left alone, record kept).</summary>
public enum TemplateRemovalOutcome { Removed, Forgotten, Kept }

public sealed record TemplateRemovalResult(string Name, long Vmid, TemplateRemovalOutcome Outcome, string Detail);

public sealed record TemplatesRemovalResult(
    string Release,
    DateTimeOffset? TemplatesRemovedAt,
    IReadOnlyList<TemplateRemovalResult> Templates);
