using System.Net;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>
/// The documented least-privilege layout (<see cref="LeastPrivilege"/>): a privilege-separated token whose write
/// rights live on the product's pool can do the whole guest lifecycle there, and nothing to other guests or /access.
/// </summary>
public sealed class LeastPrivilegeTests
{
    private const int Foreign = 500;

    [Theory]
    [MemberData(nameof(Sims.BothVersions), MemberType = typeof(Sims))]
    public async Task The_provisioner_token_manages_pool_guests_and_nothing_else(PveVersion version)
    {
        var (sim, admin) = await Sims.Start(version, scale: 0.02);
        await using var _ = sim;
        var token = sim.Seed(LeastPrivilege.Spec(version)).Tokens.Single();
        lock (sim.State.Sync)
        {
            sim.State.Access.Pools["ctrlable-templates"].Vms.UnionWith([Sims.QemuTemplate, Sims.LxcTemplate]);
        }

        sim.AddGuest(new TemplateSeed(Foreign, "someone-elses", GuestKind.Lxc) { Running = true }, isTemplate: false);
        using var api = Sims.Client(sim, token);

        // Reads the product needs.
        (await api.Get("nodes")).Data![0]!["maxmem"].Should().NotBeNull("Sys.Audit on /nodes shows host figures");
        (await api.Get("nodes/pve1/status")).Status.Should().Be(HttpStatusCode.OK);
        (await api.Get("nodes/pve1/rrddata", ("timeframe", "hour"))).Status.Should().Be(HttpStatusCode.OK);
        (await api.Get("nodes/pve1/storage")).Data!.AsArray().Select(s => s!["storage"]!.GetValue<string>()).Should().BeEquivalentTo(["local", "local-lvm"], "the guests' storage and the backup storage");
        var visible = (await api.Get("cluster/resources", ("type", "vm"))).Data!.AsArray().Select(g => g!["vmid"]!.GetValue<int>()).ToList();
        visible.Should().BeEquivalentTo([Sims.QemuTemplate, Sims.LxcTemplate]);
        (await api.Get("nodes/pve1/network", ("type", "bridge"))).Data!.AsArray().Should().ContainSingle();
        var rights = (await api.Get("access/permissions", ("path", "/pool/ctrlable"))).Data!["/pool/ctrlable"]!.AsObject();
        rights.Select(p => p.Key).Should().BeEquivalentTo(LeastPrivilege.Privileges(version));
        var ct = int.Parse((await api.Get("cluster/nextid")).Data!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);

        // The whole lifecycle of a container and a VM in the pool.
        (await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", $"{ct}"), ("hostname", "zwave"), ("pool", "ctrlable"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", $"{ct + 1}"), ("name", "haos"), ("pool", "ctrlable"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Put($"nodes/pve1/lxc/{ct}/config", ("net0", "name=eth0,bridge=vmbr0,ip=dhcp"), ("memory", "1024"), ("cores", "2"), ("description", "site A"))).Status.Should().Be(HttpStatusCode.OK);
        (await api.Put($"nodes/pve1/qemu/{ct + 1}/config", ("memory", "4096"), ("cores", "2"), ("onboot", "1"))).Status.Should().Be(HttpStatusCode.OK);
        (await api.RunTask(api.Post($"nodes/pve1/lxc/{ct}/status/start")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.RunTask(api.Post($"nodes/pve1/qemu/{ct + 1}/status/start")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get($"nodes/pve1/lxc/{ct}/interfaces")).Status.Should().Be(HttpStatusCode.OK);
        // The agent answers once the guest has booted.
        await Until.True(async () => (await api.Get($"nodes/pve1/qemu/{ct + 1}/agent/network-get-interfaces")).Status == HttpStatusCode.OK, "the agent answers the token");
        (await api.Get($"nodes/pve1/lxc/{ct}/rrddata", ("timeframe", "hour"))).Status.Should().Be(HttpStatusCode.OK);
        (await api.RunTask(api.Post($"nodes/pve1/lxc/{ct}/status/reboot")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.RunTask(api.Post($"nodes/pve1/lxc/{ct}/status/stop")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.RunTask(api.Post($"nodes/pve1/qemu/{ct + 1}/status/shutdown")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.RunTask(api.Delete($"nodes/pve1/lxc/{ct}", ("purge", "1"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.RunTask(api.Delete($"nodes/pve1/qemu/{ct + 1}", ("purge", "1"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");

        // Nothing outside the pool ...
        (await api.Post($"nodes/pve1/lxc/{Foreign}/status/stop")).Reason.Should().Be($"Permission check failed (/vms/{Foreign}, VM.PowerMgmt)");
        (await api.Delete($"nodes/pve1/lxc/{Foreign}")).Reason.Should().Be($"Permission check failed (/vms/{Foreign}, VM.Allocate)");
        (await api.Put($"nodes/pve1/lxc/{Foreign}/config", ("memory", "64"))).Status.Should().Be(HttpStatusCode.Forbidden);
        (await api.Get($"nodes/pve1/lxc/{Foreign}/config")).Status.Should().Be(HttpStatusCode.Forbidden);

        // ... templates can be cloned and destroyed (the orchestrator removes old releases' templates it proved its own,
        // SPEC §8a), but not changed or started ...
        var templateRights = (await api.Get("access/permissions", ("path", $"/vms/{Sims.LxcTemplate}"))).Data![$"/vms/{Sims.LxcTemplate}"]!.AsObject();
        templateRights.Select(p => p.Key).Should().BeEquivalentTo(LeastPrivilege.TemplatePrivileges);
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/status/start")).Reason.Should().Be($"Permission check failed (/vms/{Sims.LxcTemplate}, VM.PowerMgmt)");
        (await api.Put($"nodes/pve1/lxc/{Sims.LxcTemplate}/config", ("description", "mine"))).Status.Should().Be(HttpStatusCode.Forbidden);
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate2}/clone", ("newid", "700"), ("pool", "ctrlable"))).Reason
            .Should().Be($"Permission check failed (/vms/{Sims.LxcTemplate2}, VM.Clone)");

        // ... a clone must go into the pool ...
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "701"))).Reason.Should().Be("Permission check failed");

        // ... and /access stays out of reach.
        (await api.Post("access/users", ("userid", "evil@pve"))).Status.Should().Be(HttpStatusCode.Forbidden);
        (await api.Put("access/acl", ("path", "/"), ("roles", "Administrator"), ("users", "ctrlable@pve"))).Status.Should().Be(HttpStatusCode.Forbidden);
        (await api.Post("access/roles", ("roleid", "Mine"), ("privs", "Sys.Modify"))).Status.Should().Be(HttpStatusCode.Forbidden);
        (await api.Put($"pools/ctrlable", ("vms", $"{Foreign}"))).Status.Should().Be(HttpStatusCode.Forbidden);

        sim.Tasks.InternalErrors.Should().BeEmpty();
        admin.Dispose();
    }

    [Theory]
    [MemberData(nameof(Sims.BothVersions), MemberType = typeof(Sims))]
    public void The_role_uses_only_privileges_of_its_release(PveVersion version)
    {
        var valid = Auth.Privileges.Valid(version);
        LeastPrivilege.Privileges(version).Should().OnlyContain(p => valid.Contains(p));
        LeastPrivilege.Privileges(version).Should().Contain(version == PveVersion.V8_2 ? "VM.Monitor" : "VM.GuestAgent.Audit");
    }
}
