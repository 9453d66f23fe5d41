using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>
/// Whole installs by the real install.sh on a bare emulated Proxmox VE host (see <see cref="InstallTests"/>), on each
/// supported release: one subclass per release, so that the two run in parallel.
/// </summary>
public abstract class InstallRunTests
{
    /// <summary>The Proxmox VE release the emulated host runs.</summary>
    protected abstract PveVersion Version { get; }

    [Fact]
    public async Task Installs_least_privilege_access_and_the_orchestrator_and_a_second_run_changes_nothing()
    {
        await using var host = await InstallHost.StartAsync(Version);

        // A dry run prints what it would do and does nothing.
        var dry = await host.RunAsync(["--dry-run"]);
        dry.ExitCode.Should().Be(0, dry.ToString());
        dry.Output.Should().Contain("+ pveum pool add ctrlable ").And.Contain("+ pveum role add CtrlableProvisioner ")
            .And.Contain("+ pveum user add ctrlable@pve").And.Contain("+ pveum user token add ctrlable@pve provisioner --privsep 1")
            .And.Contain("+ pveam download local debian-12-standard_").And.Contain("+ pct create 101 local:vztmpl/debian-12-standard_")
            .And.Contain("+ pveum acl modify /pool/ctrlable --tokens").And.Contain("Dry run: ");
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Access.Pools.Should().BeEmpty();
            host.Sim.State.Access.Users.Keys.Should().Equal("root@pam");
            host.Sim.State.Guests.Keys.Should().BeEquivalentTo([InstallHost.Foreign, InstallHost.QemuTemplate, InstallHost.LxcTemplate, .. ForeignGuests.Vmids]);
        }

        File.Exists(host.AuthorizedKeys).Should().BeFalse();
        File.Exists(host.StateFile).Should().BeFalse("a dry run records nothing");

        var run = await host.RunAsync();
        run.ExitCode.Should().Be(0, run.ToString());
        host.Foreigners.ShouldBeUntouched(host.Sim, "by the install");
        var spec = LeastPrivilege.Spec(Version);
        int vmid;
        lock (host.Sim.State.Sync)
        {
            var access = host.Sim.State.Access;
            access.Pools.Keys.Should().BeEquivalentTo(spec.Pools.Select(p => p.PoolId));
            access.Roles[LeastPrivilege.RoleId].Should().BeEquivalentTo(LeastPrivilege.Privileges(Version), "install.sh grants exactly the documented set of this release");
            access.Users["ctrlable@pve"].Tokens["provisioner"].Privsep.Should().BeTrue();
            access.Acl.Select(e => (e.Path, e.Subject.Id, e.Role, e.Propagate)).Should().BeEquivalentTo(
                spec.Acls.Select(a => (a.Path, a.Subject, a.Role, a.Propagate)), "the ACLs are the documented least-privilege layout");
            access.Acl.Should().NotContain(e => e.Role == "Administrator" || e.Role == "PVEAdmin");

            var ct = host.Orchestrator()!;
            vmid = ct.Vmid;
            ct.Config["hostname"].Should().Be("ctrlable-provisioner");
            ct.Config["unprivileged"].Should().Be("1");
            ct.Config["cores"].Should().Be("1");
            ct.Config["memory"].Should().Be("1024");
            ct.Config["onboot"].Should().Be("1");
            ct.Config["net0"].Should().Contain("bridge=vmbr0").And.Contain("ip=dhcp");
            ct.Config["ostype"].Should().Be("debian");
            ct.Config["timezone"].Should().Be("host", "backup schedules are in the site's local time");
            access.PoolOf(vmid).Should().BeNull("the orchestrator's own container is not in the pool its token may manage");
        }

        // Inside the container: the bundle, the enabled unit, the configuration, the build key.
        var root = host.CtRoot(vmid);
        (await File.ReadAllTextAsync(Path.Combine(root, "opt/ctrlable-provisioner/VERSION"))).Trim().Should().Be(InstallHost.Version);
        File.ReadAllText(Path.Combine(root, "etc/systemd/system/ctrlable-provisioner.service")).Should().Be(File.ReadAllText(Path.Combine(RepoPaths.Root, "deploy/ctrlable-provisioner.service")));
        File.Exists(Path.Combine(root, "etc/systemd/system/multi-user.target.wants/ctrlable-provisioner.service")).Should().BeTrue("the unit is enabled (onboot)");
        File.ReadAllLines(Path.Combine(root, "run/systemctl/calls")).Should().Contain("restart ctrlable-provisioner.service");
        File.GetUnixFileMode(Path.Combine(root, "etc/ctrlable-provisioner/provisioner.env")).Should().Be((UnixFileMode)0b110_100_000, "root writes it, the service's group reads it");
        File.GetUnixFileMode(Path.Combine(root, "var/lib/ctrlable-provisioner/ssh/build_ed25519")).Should().Be((UnixFileMode)0b110_000_000);

        var env = host.OrchestratorEnv(vmid);
        env["CTRLABLE_PROXMOX__URL"].Should().Be(host.ProxmoxUrl);
        env["CTRLABLE_PROXMOX__TOKENID"].Should().Be("ctrlable@pve!provisioner");
        env.Should().NotContainKey("CTRLABLE_PROXMOX__TOKENSECRET", "the secret is kept only encrypted, by the orchestrator");
        var secret = InstallTests.TokenSecret(host);
        (await InstallTests.StoredTokenSecretAsync(host, vmid)).Should().Be(secret);
        File.ReadAllText(Path.Combine(host.DataDirectory(vmid), "provisioner.db")).Should().NotContain(secret);
        run.Output.Should().NotContain(secret);
        env["CTRLABLE_PROXMOX__CERTIFICATEFINGERPRINT"].Should().Be(host.Sim.CertificateFingerprint);
        env["CTRLABLE_PROXMOX__NODE"].Should().Be(InstallHost.Node);
        env["CTRLABLE_HOSTTRIGGER__HOST"].Should().Be("127.0.0.1");
        env["CTRLABLE_HOSTTRIGGER__KEYPATH"].Should().Be("/var/lib/ctrlable-provisioner/ssh/build_ed25519");
        var hostKey = (await SshServer.Run("ssh-keygen", "-lf", host.HostKeyPub)).Split(' ')[1];
        env["CTRLABLE_HOSTTRIGGER__HOSTKEYFINGERPRINT"].Should().Be(hostKey);

        // On the host: the trigger, its configuration pinned to the orchestrator's certificate, the forced-command key.
        using var certificate = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(root, "etc/ctrlable-provisioner/tls/server.crt")));
        var fingerprint = ProxmoxConnection.FingerprintOf(certificate);
        run.Output.Should().Contain($"TLS fingerprint: {fingerprint}").And.MatchRegex(@"Orchestrator:\s+https://[0-9.]+:8443")
            .And.Contain($"pct exec {vmid} -- /opt/ctrlable-provisioner/deploy/ct-setup.sh create-admin admin");
        var conf = await File.ReadAllTextAsync(Path.Combine(host.HostRoot, "etc/ctrlable/ctrlable-build.conf"));
        conf.Should().Contain($"ORCHESTRATOR_FINGERPRINT={fingerprint}\n").And.MatchRegex(@"ORCHESTRATOR_URL=https://[0-9.]+:8443\n");
        conf.Should().Contain("\nALLOWED_STORAGES=local-lvm\nALLOWED_BRIDGES=vmbr0\nALLOWED_POOLS=ctrlable-templates\nALLOW_PRIVILEGED=no\n",
            "the host bounds what a build plan may ask for with the installer's own storage, bridge and template pool");
        File.ReadAllBytes(Path.Combine(host.HostRoot, "usr/local/sbin/ctrlable-build")).Should().Equal(File.ReadAllBytes(Path.Combine(RepoPaths.Root, "host/ctrlable-build")));
        File.Exists(Path.Combine(host.HostRoot, "usr/local/share/ctrlable/firstboot/ctrlable-firstboot")).Should().BeTrue();
        File.Exists(Path.Combine(host.HostRoot, "usr/local/share/ctrlable/firstboot/ctrlable-firstboot.service")).Should().BeTrue();
        var publicKey = (await File.ReadAllTextAsync(Path.Combine(root, "var/lib/ctrlable-provisioner/ssh/build_ed25519.pub"))).Trim();
        File.ReadAllLines(host.AuthorizedKeys).Should().Equal($"command=\"/usr/local/sbin/ctrlable-build\",restrict {publicKey}");

        // The install record: what this installation created, each marked with its install id.
        File.GetUnixFileMode(host.StateFile).Should().Be((UnixFileMode)0b110_000_000);
        var record = InstallTests.InstallRecord(host);
        var marker = $"ctrlable-install:{record["install-id"]}";
        record.Keys.Should().Contain(["pool:ctrlable", "pool:ctrlable-templates", "role:CtrlableProvisioner", "user:ctrlable@pve", "token:ctrlable@pve!provisioner", "ct",
            $"file:{host.HostRoot}/usr/local/sbin/ctrlable-build", $"file:{host.HostRoot}/etc/ctrlable/ctrlable-build.conf", "authorized-key"]);
        record["ct"].Should().Be(vmid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        record["authorized-key"].Should().Be($"command=\"/usr/local/sbin/ctrlable-build\",restrict {publicKey}");
        record.Keys.Count(k => k.StartsWith("acl:", StringComparison.Ordinal)).Should().Be(spec.Acls.Count);
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Guests[vmid].Config["description"].Should().Contain(marker);
            host.Sim.State.Access.Users["ctrlable@pve"].Comment.Should().Contain(marker);
            host.Sim.State.Access.Users["ctrlable@pve"].Tokens["provisioner"].Comment.Should().Contain(marker);
            host.Sim.State.Access.Pools["ctrlable"].Comment.Should().Contain(marker);
        }

        // Again: nothing changes, and it says so; a dry run agrees.
        var again = await host.RunAsync();
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().Contain("Nothing to change").And.NotContain("  changed ");
        host.OrchestratorEnv(vmid).Should().Equal(env, "the token and every setting stay as they were");
        File.ReadAllLines(host.AuthorizedKeys).Should().HaveCount(1);
        File.ReadAllLines(Path.Combine(root, "run/systemctl/calls")).Count(l => l.StartsWith("restart", StringComparison.Ordinal)).Should().Be(1);
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Access.Acl.Should().HaveCount(spec.Acls.Count);
            host.Sim.State.Guests.Values.Count(g => g.Kind == SimGuestKind.Lxc && !g.IsTemplate).Should().Be(3, "the orchestrator's container and the admin's two");
        }

        var dryAgain = await host.RunAsync(["--dry-run"]);
        dryAgain.ExitCode.Should().Be(0, dryAgain.ToString());
        dryAgain.Output.Should().Contain("Nothing to change").And.NotContain("    + ");
        InstallTests.InstallRecord(host).Should().Equal(record, "a second run had nothing new to record");
        host.Foreigners.ShouldBeUntouched(host.Sim, "by a re-install");
    }

    [Fact]
    public async Task The_installed_token_deploys_into_the_pool_and_cannot_touch_other_guests()
    {
        await using var host = await InstallHost.StartAsync(Version);
        var run = await host.RunAsync(["--ip", "10.0.0.20/24", "--gateway", "10.0.0.1", "--vlan", "20"]);
        run.ExitCode.Should().Be(0, run.ToString());
        var vmid = host.OrchestratorVmid;
        host.Sim.State.Guests[vmid].Config["net0"].Should().Contain("ip=10.0.0.20/24").And.Contain("gw=10.0.0.1").And.Contain("tag=20");
        lock (host.Sim.State.Sync)
        {
            // What a build does with the templates it makes.
            host.Sim.State.Access.Pools["ctrlable-templates"].Vms.UnionWith([InstallHost.QemuTemplate, InstallHost.LxcTemplate]);
        }

        // The orchestrator with the Proxmox settings install.sh wrote.
        var env = host.OrchestratorEnv(vmid);
        // ... and the token secret it handed over, which the orchestrator keeps encrypted in its data directory.
        var settings = InstallTests.ProxmoxSettingsOf(env);
        settings["Deploy:FirstBootTimeoutSeconds"] = "120";
        settings["Urls"] = $"https://127.0.0.1:{TestPorts.Free()};http://127.0.0.1:0";
        // Where the emulator's Home Assistant guests answer (a real HAOS: 8123 or 80).
        settings["HomeAssistant:Ports:0"] = host.Sim.HomeAssistantPorts!.Value.LegacyPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["HomeAssistant:Ports:1"] = host.Sim.HomeAssistantPorts!.Value.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["HomeAssistant:PollIntervalSeconds"] = "0.1";
        using var app = new ProvisionerApp(settings: settings, https: true, dataDirectory: host.DataDirectory(vmid));
        await app.EnsureSetUpAsync();
        var now = DateTimeOffset.UtcNow;
        await app.Service<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", null,
        [
            new TemplateRow(0, "2026.06", "zwavejs", "lxc", InstallHost.LxcTemplate, InstallHost.Node, "2026-05-30", null, "9.x", now),
            new TemplateRow(0, "2026.06", "ctrlable-pro", "vm", InstallHost.QemuTemplate, InstallHost.Node, "2026-05-30", null, null, now),
        ], now, CancellationToken.None);
        await app.Service<ReleaseSecrets>().GetOrIssueAsync("2026.06", CancellationToken.None);
        await TestBaseBackup.StoreAsync(app);
        host.Boot.Connect(FirstBootGuests.Behaviour(app));
        try
        {
            using var client = await app.CreateClientAsync(Role.Operator);
            var project = await DeployApiTests.CreateProjectAsync(client, "Installed");
            (await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "zwavejs", "ctrlable-pro" } })).StatusCode.Should().Be(HttpStatusCode.Accepted);
            var instances = await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromSeconds(90));
            instances.Should().HaveCount(2).And.OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", instances.Select(i => i.GetProperty("error").ToString())));
            host.Sim.State.Access.Pools["ctrlable"].Vms.Should().BeEquivalentTo(instances.Select(i => i.GetProperty("vmid").GetInt32()));
        }
        finally
        {
            host.Boot.Disconnect();
        }

        // The same token against guests outside its pool: Proxmox's 403.
        using var token = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && ProxmoxConnection.FingerprintOf(new X509Certificate2(cert)) == env["CTRLABLE_PROXMOX__CERTIFICATEFINGERPRINT"] },
        })
        { BaseAddress = host.Sim.BaseAddress };
        token.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"PVEAPIToken={env["CTRLABLE_PROXMOX__TOKENID"]}={InstallTests.TokenSecret(host)}");
        foreach (var (method, path, reason) in new[]
        {
            (HttpMethod.Post, $"nodes/{InstallHost.Node}/qemu/{InstallHost.Foreign}/status/stop", $"Permission check failed (/vms/{InstallHost.Foreign}, VM.PowerMgmt)"),
            (HttpMethod.Delete, $"nodes/{InstallHost.Node}/qemu/{InstallHost.Foreign}", $"Permission check failed (/vms/{InstallHost.Foreign}, VM.Allocate)"),
            (HttpMethod.Post, $"nodes/{InstallHost.Node}/lxc/{vmid}/status/stop", $"Permission check failed (/vms/{vmid}, VM.PowerMgmt)"),
            (HttpMethod.Put, "access/acl", "Permission check failed (/, Permissions.Modify"),
        })
        {
            using var request = new HttpRequestMessage(method, path);
            if (method == HttpMethod.Put)
            {
                // Making itself Administrator.
                request.Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["path"] = "/", ["roles"] = "Administrator", ["tokens"] = "ctrlable@pve!provisioner" });
            }

            using var response = await token.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.Forbidden, $"{method} {path}");
            response.ReasonPhrase.Should().StartWith(reason);
        }

        host.Sim.State.Guests[InstallHost.Foreign].Running.Should().BeTrue();
    }
}

public sealed class InstallOnPve82Tests : InstallRunTests
{
    protected override PveVersion Version => PveVersion.V8_2;
}

public sealed class InstallOnPve91Tests : InstallRunTests
{
    protected override PveVersion Version => PveVersion.V9_1;
}
