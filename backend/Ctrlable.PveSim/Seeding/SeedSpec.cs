using Ctrlable.PveSim.Guests;

namespace Ctrlable.PveSim.Seeding;

/// <summary>What to create on a fresh emulator: storages, pools, roles, users with tokens, ACLs, templates, guests.</summary>
public sealed record SeedSpec
{
    /// <summary>Null keeps the defaults (<c>local</c> dir, <c>local-lvm</c> lvmthin on every node).</summary>
    public IReadOnlyList<StorageSeed>? Storages { get; init; }

    public IReadOnlyList<PoolSeed> Pools { get; init; } = [];

    public IReadOnlyList<RoleSeed> Roles { get; init; } = [];

    public IReadOnlyList<UserSeed> Users { get; init; } = [];

    public IReadOnlyList<AclSeed> Acls { get; init; } = [];

    public IReadOnlyList<TemplateSeed> Templates { get; init; } = [];

    /// <summary>Ordinary (non-template) guests, e.g. someone else's VMs on the same host.</summary>
    public IReadOnlyList<TemplateSeed> Guests { get; init; } = [];
}

public sealed record StorageSeed(string Id, string Type, string Content, bool Shared = false, long TotalGiB = 512, IReadOnlyList<string>? Nodes = null);

public sealed record PoolSeed(string PoolId, string? Comment = null, IReadOnlyList<string>? Storages = null);

/// <summary>A custom role; privilege names must exist in the emulated release.</summary>
public sealed record RoleSeed(string RoleId, IReadOnlyList<string> Privileges);

/// <summary>A user (<c>name@realm</c>) and its API tokens.</summary>
public sealed record UserSeed(string UserId, IReadOnlyList<TokenSeed>? Tokens = null);

/// <summary>A token; <see cref="Secret"/> null generates a UUID.</summary>
public sealed record TokenSeed(string Name, bool Privsep = true, string? Secret = null);

/// <summary>
/// An ACL line. <see cref="Subject"/> is a user id (<c>u@pve</c>), a token id (<c>u@pve!name</c>) or a group
/// prefixed with <c>@</c>.
/// </summary>
public sealed record AclSeed(string Path, string Subject, string Role, bool Propagate = true);

/// <summary>
/// A guest to create: the simple list the orchestrator maps its release manifest onto. <see cref="FirstBoot"/>
/// puts the <see cref="FirstBootMarker.Tag"/> tag on it, so its clones run the first-boot behaviour.
/// </summary>
public sealed record TemplateSeed(int Vmid, string Name, GuestKind Kind, int DiskGiB = 8, bool FirstBoot = false)
{
    public string? Node { get; init; }

    public string Storage { get; init; } = "local-lvm";

    public int Cores { get; init; } = 2;

    public int MemoryMiB { get; init; } = 2048;

    public string Bridge { get; init; } = "vmbr0";

    public string? Pool { get; init; }

    public string? Description { get; init; }

    public bool Unprivileged { get; init; } = true;

    public bool Running { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>A Home Assistant OS template that was booted once while it was built (Core on its disk).</summary>
    public bool HomeAssistantCoreOnDisk { get; init; }
}

/// <summary>The tokens created by a seed, ready for Authorization headers.</summary>
public sealed record SeedResult(IReadOnlyList<Auth.ApiTokenCredentials> Tokens);
