namespace Ctrlable.PveSim.Auth;

/// <summary>
/// Privilege names and built-in roles per release, as pve-access-control's $privgroups defines them.
/// PVE 9 dropped VM.Monitor and added VM.GuestAgent.* and VM.Replicate, so role definitions are version-specific.
/// </summary>
public static class Privileges
{
    private static readonly Dictionary<PveVersion, PrivilegeSet> Sets = new()
    {
        [PveVersion.V8_2] = Build(
            vmAdmin: ["VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType",
                "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.Migrate", "VM.Monitor", "VM.Snapshot", "VM.Snapshot.Rollback"],
            vmUser: ["VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.PowerMgmt"],
            vmAudit: ["VM.Audit"]),
        [PveVersion.V9_1] = Build(
            vmAdmin: ["VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType",
                "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.Replicate",
                "VM.Snapshot", "VM.Snapshot.Rollback"],
            vmUser: ["VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.GuestAgent.FileRead",
                "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt"],
            vmAudit: ["VM.Audit", "VM.GuestAgent.Audit"]),
    };

    public static IReadOnlySet<string> Valid(PveVersion version) => Sets[version].Valid;

    /// <summary>Administrator, NoAccess, PVEAdmin, PVEVMAdmin, PVEVMUser, PVEAuditor, PVETemplateUser, ...</summary>
    public static IReadOnlyDictionary<string, IReadOnlySet<string>> BuiltInRoles(PveVersion version) => Sets[version].Roles;

    private static PrivilegeSet Build(string[] vmAdmin, string[] vmUser, string[] vmAudit)
    {
        var groups = new (string Cat, string[] Root, string[] Admin, string[] User, string[] Audit)[]
        {
            ("VM", [], vmAdmin, vmUser, vmAudit),
            ("Sys", ["Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork"], ["Sys.Console", "Sys.Syslog"], [], ["Sys.Audit"]),
            ("Datastore", [], ["Datastore.Allocate", "Datastore.AllocateTemplate"], ["Datastore.AllocateSpace"], ["Datastore.Audit"]),
            ("SDN", [], ["SDN.Allocate", "SDN.Audit"], ["SDN.Use"], ["SDN.Audit"]),
            ("User", ["Realm.Allocate"], ["User.Modify", "Group.Allocate", "Realm.AllocateUser"], [], []),
            ("Pool", [], ["Pool.Allocate"], ["Pool.Audit"], ["Pool.Audit"]),
            ("Mapping", [], ["Mapping.Modify"], ["Mapping.Use"], ["Mapping.Audit"]),
        };

        var valid = new HashSet<string>(StringComparer.Ordinal) { "Permissions.Modify" };
        var roles = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal)
        {
            ["NoAccess"] = [],
            ["PVEAdmin"] = [],
            ["PVEAuditor"] = [],
            ["PVETemplateUser"] = ["VM.Clone", "VM.Audit"],
        };
        foreach (var (cat, root, admin, user, audit) in groups)
        {
            valid.UnionWith(root.Concat(admin).Concat(user).Concat(audit));
            var catAdmin = roles[$"PVE{cat}Admin"] = [.. admin.Concat(user).Concat(audit)];
            roles["PVEAdmin"].UnionWith(catAdmin);
            if (user.Length > 0)
            {
                roles[$"PVE{cat}User"] = [.. user.Concat(audit)];
            }

            roles["PVEAuditor"].UnionWith(audit);
        }

        roles["PVEAdmin"].Remove("Mapping.Modify");
        roles["Administrator"] = [.. valid];
        return new PrivilegeSet(
            valid,
            roles.ToDictionary(r => r.Key, r => (IReadOnlySet<string>)r.Value, StringComparer.Ordinal));
    }

    private sealed record PrivilegeSet(IReadOnlySet<string> Valid, IReadOnlyDictionary<string, IReadOnlySet<string>> Roles);
}
