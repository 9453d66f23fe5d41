using System.Net;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>API tokens, privilege separation, ACL propagation and the schema's permission checks.</summary>
public sealed class AuthTests
{
    [Fact]
    public async Task Missing_and_wrong_tokens_are_401_with_proxmox_reasons_and_no_body()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        using var anonymous = Sims.Client(sim);
        var none = await anonymous.Get("version");
        none.Status.Should().Be(HttpStatusCode.Unauthorized);
        none.Reason.Should().Be("No ticket");
        none.Raw.Should().BeEmpty();

        foreach (var header in new[] { "PVEAPIToken=root@pam!admin=wrong", "PVEAPIToken=root@pam!nosuch=x", "PVEAPIToken=garbage", "PVEAPIToken=nobody@pve!t=x" })
        {
            anonymous.Http.DefaultRequestHeaders.Remove("Authorization");
            anonymous.Http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", header);
            var r = await anonymous.Get("version");
            r.Status.Should().Be(HttpStatusCode.Unauthorized, header);
            r.Reason.Should().Be("Authentication failed!", header);
        }
    }

    [Fact]
    public async Task Expired_tokens_and_disabled_users_cannot_log_in()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        var token = Access.Token(sim, "ops@pve", "PVEAuditor", "/");
        using var api = Sims.Client(sim, token);
        (await api.Get("version")).Status.Should().Be(HttpStatusCode.OK);
        lock (sim.State.Sync)
        {
            sim.State.Access.Users["ops@pve"].Tokens["tok"].Expire = sim.Clock.UnixNow - 1;
        }

        (await api.Get("version")).Reason.Should().Be("Authentication failed!");
        lock (sim.State.Sync)
        {
            sim.State.Access.Users["ops@pve"].Tokens["tok"].Expire = 0;
            sim.State.Access.Users["ops@pve"].Enabled = false;
        }

        (await api.Get("version")).Status.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_missing_privilege_is_403_naming_path_and_privilege()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        var token = Access.Token(sim, "ops@pve", "PVEAuditor", "/nodes");
        using var api = Sims.Client(sim, token);
        var r = await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/config");
        r.Status.Should().Be(HttpStatusCode.Forbidden);
        r.Reason.Should().Be($"Permission check failed (/vms/{Sims.LxcTemplate}, VM.Audit)");
        r.Message.Should().Be($"Permission check failed (/vms/{Sims.LxcTemplate}, VM.Audit)\n");
        (await api.Get("nodes/pve1/status")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_privilege_separated_token_gets_the_intersection_of_user_and_token_acls()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        ApiTokenCredentials token;
        lock (sim.State.Sync)
        {
            var access = sim.State.Access;
            access.AddUser("ops@pve");
            token = access.AddToken("ops@pve", "narrow", privsep: true);
            access.SetAcl("/vms", AclSubject.User("ops@pve"), "PVEVMAdmin");
            access.SetAcl($"/vms/{Sims.LxcTemplate}", AclSubject.Token(token.TokenId), "PVEVMAdmin");
            access.SetAcl("/nodes", AclSubject.Token(token.TokenId), "PVEAuditor");
        }

        using var api = Sims.Client(sim, token);
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/config")).Status.Should().Be(HttpStatusCode.OK);
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate2}/config")).Status.Should().Be(HttpStatusCode.Forbidden, "the token has no ACL there");
        (await api.Get("nodes/pve1/status")).Reason.Should().Be("Permission check failed (/nodes/pve1, Sys.Audit)", "the user lacks it, so the token cannot have it");
    }

    [Fact]
    public async Task A_token_without_privilege_separation_acts_as_its_user()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        ApiTokenCredentials token;
        lock (sim.State.Sync)
        {
            sim.State.Access.AddUser("ops@pve");
            token = sim.State.Access.AddToken("ops@pve", "full", privsep: false);
            sim.State.Access.SetAcl("/", AclSubject.User("ops@pve"), "PVEAuditor");
        }

        using var api = Sims.Client(sim, token);
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate2}/config")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Acls_propagate_unless_told_not_to_and_deeper_entries_override()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        var token = Access.Token(sim, "ops@pve", "PVEAuditor");
        Access.Acl(sim, "/vms", AclSubject.User("ops@pve"), "PVEAuditor", propagate: false);
        Access.Acl(sim, "/vms", AclSubject.Token(token.TokenId), "PVEAuditor", propagate: false);
        using var api = Sims.Client(sim, token);
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/config")).Status.Should().Be(HttpStatusCode.Forbidden);

        Access.Acl(sim, "/vms", AclSubject.User("ops@pve"), "PVEAuditor");
        Access.Acl(sim, "/vms", AclSubject.Token(token.TokenId), "PVEAuditor");
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/config")).Status.Should().Be(HttpStatusCode.OK);

        Access.Acl(sim, $"/vms/{Sims.LxcTemplate}", AclSubject.Token(token.TokenId), "NoAccess");
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/config")).Status.Should().Be(HttpStatusCode.Forbidden);
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate2}/config")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Roles_accept_only_privileges_of_the_emulated_release()
    {
        var (v8, _) = await Sims.Start(PveVersion.V8_2);
        await using (v8)
        {
            var act = () => Access.Role(v8, "Mon", "VM.GuestAgent.Audit");
            act.Should().Throw<ArgumentException>().WithMessage("invalid privilege 'VM.GuestAgent.Audit'*");
            Access.Role(v8, "Mon", "VM.Monitor");
        }

        var (v9, _) = await Sims.Start(PveVersion.V9_1);
        await using (v9)
        {
            var act = () => Access.Role(v9, "Mon", "VM.Monitor");
            act.Should().Throw<ArgumentException>().WithMessage("invalid privilege 'VM.Monitor'*");
            Access.Role(v9, "Mon", "VM.GuestAgent.Audit");
        }
    }

    [Theory]
    [InlineData(PveVersion.V8_2, "VM.Monitor")]
    [InlineData(PveVersion.V9_1, "VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted")]
    public async Task The_guest_agent_check_differs_between_8_and_9(PveVersion version, string privileges)
    {
        var (sim, _) = await Sims.Start(version);
        await using var __ = sim;
        Access.Role(sim, "VmAudit", "VM.Audit", "Sys.Audit");
        var token = Access.Token(sim, "ops@pve", "VmAudit", "/");
        using var api = Sims.Client(sim, token);
        var r = await api.Get($"nodes/pve1/qemu/{Sims.QemuTemplate}/agent/network-get-interfaces");
        r.Status.Should().Be(HttpStatusCode.Forbidden);
        r.Reason.Should().Be($"Permission check failed (/vms/{Sims.QemuTemplate}, {privileges})");
    }

    [Fact]
    public async Task Lists_only_show_guests_the_caller_may_audit()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        var token = Access.Token(sim, "ops@pve", "PVEAuditor", $"/vms/{Sims.LxcTemplate}");
        using var api = Sims.Client(sim, token);
        var lxc = await api.Get("nodes/pve1/lxc");
        lxc.Data!.AsArray().Select(g => g!["vmid"]!.GetValue<int>()).Should().Equal(Sims.LxcTemplate);
        var resources = await api.Get("cluster/resources", ("type", "vm"));
        resources.Data!.AsArray().Select(g => g!["vmid"]!.GetValue<int>()).Should().Equal(Sims.LxcTemplate);
        var nodes = await api.Get("nodes");
        nodes.Data![0]!.AsObject().ContainsKey("maxmem").Should().BeFalse("node figures need Sys.Audit");
        nodes.Data![0]!["ssl_fingerprint"]!.GetValue<string>().Should().Be(sim.CertificateFingerprint);
    }

    [Fact]
    public async Task A_failed_or_check_reports_a_bare_permission_failure()
    {
        var (sim, _) = await Sims.Start();
        await using var __ = sim;
        var token = Access.Token(sim, "ops@pve", "PVETemplateUser", "/vms");
        using var api = Sims.Client(sim, token);
        var r = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"));
        r.Status.Should().Be(HttpStatusCode.Forbidden);
        r.Reason.Should().Be("Permission check failed");
    }

    [Fact]
    public async Task Tasks_are_visible_to_their_owner_or_with_sys_audit()
    {
        var (sim, admin) = await Sims.Start();
        await using var __ = sim;
        var clone = await admin.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"));
        var other = Access.Token(sim, "ops@pve", "PVEVMAdmin", "/vms");
        using var api = Sims.Client(sim, other);
        var r = await api.Get($"nodes/pve1/tasks/{Uri.EscapeDataString(clone.Upid)}/status");
        r.Status.Should().Be(HttpStatusCode.Forbidden);
        r.Reason.Should().Be("Permission check failed (/nodes/pve1, Sys.Audit)");
        (await api.Get("nodes/pve1/tasks", ("source", "all"))).Data!.AsArray().Should().BeEmpty();
        (await admin.WaitTask(clone.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
    }

    [Fact]
    public async Task Api_tokens_cannot_use_ticket_only_endpoints()
    {
        var (sim, admin) = await Sims.Start();
        await using var __ = sim;
        var r = await admin.Post("access/users/root@pam/token/xy");
        r.Status.Should().Be(HttpStatusCode.OK, "the token endpoint allows tokens");
        r.Data!["full-tokenid"]!.GetValue<string>().Should().Be("root@pam!xy");
        var ticket = await admin.Put("access/password", ("userid", "root@pam"), ("password", "secret123"));
        ticket.Status.Should().Be(HttpStatusCode.Forbidden);
        ticket.Reason.Should().Be("Permission check failed (URI '/access/password' not available with API token, need proper ticket.");
    }
}
