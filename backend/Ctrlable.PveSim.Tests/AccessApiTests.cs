using System.Net;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>
/// user.cfg administration over the API, as pveum and install.sh use it: the least-privilege layout built by
/// calls instead of a seed grants the same rights, privilege names are checked per release, and the product's
/// token can administer nothing.
/// </summary>
public sealed class AccessApiTests
{
    [Theory]
    [MemberData(nameof(Sims.BothVersions), MemberType = typeof(Sims))]
    public async Task The_least_privilege_layout_built_by_calls_grants_what_the_seed_grants(PveVersion version)
    {
        var (sim, admin) = await Sims.Start(version);
        await using var _ = sim;
        using var __ = admin;

        (await admin.Post("pools", ("poolid", "ctrlable"))).Status.Should().Be(HttpStatusCode.OK);
        (await admin.Post("pools", ("poolid", "ctrlable-templates"))).Status.Should().Be(HttpStatusCode.OK);
        (await admin.Post("access/roles", ("roleid", LeastPrivilege.RoleId), ("privs", string.Join(',', LeastPrivilege.Privileges(version))))).Status.Should().Be(HttpStatusCode.OK);
        (await admin.Post("access/roles", ("roleid", LeastPrivilege.TemplateRoleId), ("privs", string.Join(',', LeastPrivilege.TemplatePrivileges)))).Status.Should().Be(HttpStatusCode.OK);
        (await admin.Post("access/users", ("userid", "ctrlable@pve"))).Status.Should().Be(HttpStatusCode.OK);
        var created = await admin.Post("access/users/ctrlable@pve/token/provisioner", ("privsep", "1"));
        created.Data!["full-tokenid"]!.GetValue<string>().Should().Be("ctrlable@pve!provisioner");
        created.Data!["info"]!["privsep"]!.GetValue<int>().Should().Be(1);
        var secret = created.Data!["value"]!.GetValue<string>();
        foreach (var (path, role) in new[] { ("/pool/ctrlable", LeastPrivilege.RoleId), ("/pool/ctrlable-templates", LeastPrivilege.TemplateRoleId), ("/storage/local-lvm", LeastPrivilege.RoleId), ("/sdn/zones/localnetwork", LeastPrivilege.RoleId), ("/nodes", LeastPrivilege.RoleId) })
        {
            (await admin.Put("access/acl", ("path", path), ("roles", role), ("users", "ctrlable@pve"), ("tokens", "ctrlable@pve!provisioner"))).Status.Should().Be(HttpStatusCode.OK);
        }

        var roleView = (await admin.Get($"access/roles/{LeastPrivilege.RoleId}")).Data!.AsObject();
        roleView.Select(p => p.Key).Should().BeEquivalentTo(LeastPrivilege.Privileges(version));
        (await admin.Get("access/acl")).Data!.AsArray().Should().HaveCount(10);

        using var token = Sims.Client(sim, new ApiTokenCredentials("ctrlable@pve!provisioner", secret));
        var rights = (await token.Get("access/permissions", ("path", "/pool/ctrlable"))).Data!["/pool/ctrlable"]!.AsObject();
        rights.Select(p => p.Key).Should().BeEquivalentTo(LeastPrivilege.Privileges(version));

        // The product's token administers nothing.
        var denied = await token.Post("access/users", ("userid", "evil@pve"));
        denied.Status.Should().Be(HttpStatusCode.Forbidden);
        (await token.Put("access/acl", ("path", "/"), ("roles", "Administrator"), ("tokens", "ctrlable@pve!provisioner"))).Status.Should().Be(HttpStatusCode.Forbidden);
        (await token.Post("access/roles", ("roleid", "Mine"), ("privs", "Sys.Modify"))).Status.Should().Be(HttpStatusCode.Forbidden);
        (await token.Get("access/acl")).Data!.AsArray().Should().BeEmpty("it may modify permissions nowhere");
    }

    [Fact]
    public async Task Privileges_are_checked_per_release_and_duplicates_are_refused()
    {
        var (sim8, admin8) = await Sims.Start(PveVersion.V8_2);
        await using var _ = sim8;
        using var __ = admin8;
        var (sim9, admin9) = await Sims.Start(PveVersion.V9_1);
        await using var ___ = sim9;
        using var ____ = admin9;

        var v8 = await admin8.Post("access/roles", ("roleid", "R"), ("privs", "VM.GuestAgent.Audit"));
        v8.Status.Should().Be(HttpStatusCode.BadRequest);
        v8.Errors!["privs"]!.GetValue<string>().Should().Contain("invalid privilege 'VM.GuestAgent.Audit'");
        (await admin9.Post("access/roles", ("roleid", "R"), ("privs", "VM.Monitor"))).Status.Should().Be(HttpStatusCode.BadRequest);
        (await admin9.Post("access/roles", ("roleid", "R"), ("privs", "VM.GuestAgent.Audit"))).Status.Should().Be(HttpStatusCode.OK);

        var again = await admin9.Post("access/roles", ("roleid", "R"), ("privs", "VM.Audit"));
        again.Status.Should().Be(HttpStatusCode.InternalServerError);
        again.Message.Should().Contain("role 'R' already exists");
        (await admin9.Put("access/roles/PVEAdmin", ("privs", "VM.Audit"))).Status.Should().Be(HttpStatusCode.InternalServerError);

        (await admin9.Post("access/users", ("userid", "u@pve"))).Status.Should().Be(HttpStatusCode.OK);
        (await admin9.Post("access/users", ("userid", "u@pve"))).Message.Should().Contain("user 'u@pve' already exists");
        (await admin9.Post("access/users/u@pve/token/tk")).Status.Should().Be(HttpStatusCode.OK);
        (await admin9.Post("access/users/u@pve/token/tk")).Errors!["tokenid"]!.GetValue<string>().Should().Be("Token already exists.");

        // A removed token loses its ACL entries; an ACL for an unknown token is refused.
        (await admin9.Put("access/acl", ("path", "/vms"), ("roles", "R"), ("tokens", "u@pve!tk"))).Status.Should().Be(HttpStatusCode.OK);
        (await admin9.Delete("access/users/u@pve/token/tk")).Status.Should().Be(HttpStatusCode.OK);
        (await admin9.Get("access/acl")).Data!.AsArray().Should().BeEmpty();
        (await admin9.Put("access/acl", ("path", "/vms"), ("roles", "R"), ("tokens", "u@pve!tk"))).Message.Should().Contain("no such token");
    }
}
