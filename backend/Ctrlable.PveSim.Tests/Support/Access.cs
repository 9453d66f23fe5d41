using Ctrlable.PveSim.Auth;

namespace Ctrlable.PveSim.Tests.Support;

/// <summary>Creates users and privilege-separated tokens with ACLs for permission tests.</summary>
internal static class Access
{
    /// <summary>A user and its privsep token, both granted <paramref name="role"/> on each path.</summary>
    public static ApiTokenCredentials Token(PveSimulator sim, string userId, string role, params string[] paths)
    {
        lock (sim.State.Sync)
        {
            var access = sim.State.Access;
            access.AddUser(userId);
            var token = access.AddToken(userId, "tok", privsep: true);
            foreach (var path in paths)
            {
                access.SetAcl(path, AclSubject.User(userId), role);
                access.SetAcl(path, AclSubject.Token(token.TokenId), role);
            }

            return token;
        }
    }

    public static void Role(PveSimulator sim, string role, params string[] privileges)
    {
        lock (sim.State.Sync)
        {
            sim.State.Access.AddRole(role, privileges);
        }
    }

    public static void Acl(PveSimulator sim, string path, AclSubject subject, string role, bool propagate = true)
    {
        lock (sim.State.Sync)
        {
            sim.State.Access.SetAcl(path, subject, role, propagate);
        }
    }
}
