namespace Ctrlable.PveSim.Seeding;

/// <summary>
/// The least-privilege access layout for the Ctrlable provisioner, as tested against the emulator:
/// one custom role, granted (to the user and to its privilege-separated token) on the product's pool, the
/// storage it clones onto, the storage the guests' backups go to (unless null or the same), the local SDN zone (SDN.Use on the bridges) and /nodes (Sys.Audit for host
/// health); templates live in a second pool where the token gets a second role, CtrlableTemplates (VM.Audit,
/// VM.Clone, and VM.Allocate to remove the templates of old releases the orchestrator built).
/// </summary>
public static class LeastPrivilege
{
    public const string RoleId = "CtrlableProvisioner";

    /// <summary>On the templates' pool: clone them, and destroy those of old releases the orchestrator built (VM.Allocate).</summary>
    public const string TemplateRoleId = "CtrlableTemplates";

    public static IReadOnlyList<string> TemplatePrivileges { get; } = ["VM.Audit", "VM.Clone", "VM.Allocate"];

    /// <summary>
    /// PVE 9 replaced VM.Monitor with VM.GuestAgent.Audit (needed for agent/network-get-interfaces). VM.Snapshot and
    /// VM.Snapshot.Rollback: an upgrade's snapshot, its rollback and the sweep's delete (the API schema's checks).
    /// VM.Backup: vzdump of the pool's guests and restores of their archives; on the backup storage the role gives
    /// Datastore.AllocateSpace/Audit.
    /// </summary>
    public static IReadOnlyList<string> Privileges(PveVersion version) =>
    [
        "VM.Audit", "VM.Allocate", "VM.Backup", "VM.Clone", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network",
        "VM.Config.Options", "VM.PowerMgmt", "VM.Snapshot", "VM.Snapshot.Rollback", version == PveVersion.V8_2 ? "VM.Monitor" : "VM.GuestAgent.Audit",
        "Datastore.AllocateSpace", "Datastore.Audit", "SDN.Use", "Sys.Audit", "Pool.Audit",
    ];

    /// <summary>
    /// Users, token, role, pools and ACLs of the layout. The token id is <c>{userId}!{tokenName}</c>.
    /// </summary>
    public static SeedSpec Spec(
        PveVersion version,
        string userId = "ctrlable@pve",
        string tokenName = "provisioner",
        string pool = "ctrlable",
        string templatePool = "ctrlable-templates",
        string storage = "local-lvm",
        string? tokenSecret = null,
        string? backupStorage = "local")
    {
        var tokenId = $"{userId}!{tokenName}";
        var acls = new List<AclSeed>();
        foreach (var subject in new[] { userId, tokenId })
        {
            acls.Add(new AclSeed($"/pool/{pool}", subject, RoleId));
            acls.Add(new AclSeed($"/pool/{templatePool}", subject, TemplateRoleId));
            acls.Add(new AclSeed($"/storage/{storage}", subject, RoleId));
            if (backupStorage is not null && backupStorage != storage)
            {
                acls.Add(new AclSeed($"/storage/{backupStorage}", subject, RoleId));
            }

            acls.Add(new AclSeed("/sdn/zones/localnetwork", subject, RoleId));
            acls.Add(new AclSeed("/nodes", subject, RoleId));
        }

        return new SeedSpec
        {
            Roles = [new RoleSeed(RoleId, Privileges(version)), new RoleSeed(TemplateRoleId, TemplatePrivileges)],
            Pools = [new PoolSeed(pool, "Ctrlable guests"), new PoolSeed(templatePool, "Ctrlable templates")],
            Users = [new UserSeed(userId, [new TokenSeed(tokenName, Privsep: true, Secret: tokenSecret)])],
            Acls = acls,
        };
    }
}
