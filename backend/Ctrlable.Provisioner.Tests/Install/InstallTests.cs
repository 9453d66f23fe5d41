using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>
/// The real install.sh on a bare emulated Proxmox VE host (8.2 and 9.1): the stand-ins for pveversion, pveum,
/// pveam, pct and pvesh turn its commands into API calls, so what it creates is checked where Proxmox keeps it.
/// </summary>
public sealed class InstallTests
{
    [Theory]
    [InlineData(PveVersion.V8_2)]
    [InlineData(PveVersion.V9_1)]
    public async Task Installs_least_privilege_access_and_the_orchestrator_and_a_second_run_changes_nothing(PveVersion version)
    {
        await using var host = await InstallHost.StartAsync(version);

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
        var spec = LeastPrivilege.Spec(version);
        int vmid;
        lock (host.Sim.State.Sync)
        {
            var access = host.Sim.State.Access;
            access.Pools.Keys.Should().BeEquivalentTo(spec.Pools.Select(p => p.PoolId));
            access.Roles[LeastPrivilege.RoleId].Should().BeEquivalentTo(LeastPrivilege.Privileges(version), "install.sh grants exactly the documented set of this release");
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
        var secret = TokenSecret(host);
        (await StoredTokenSecretAsync(host, vmid)).Should().Be(secret);
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
        var record = InstallRecord(host);
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
        InstallRecord(host).Should().Equal(record, "a second run had nothing new to record");
        host.Foreigners.ShouldBeUntouched(host.Sim, "by a re-install");
    }

    [Fact]
    public async Task A_stopped_container_is_started_a_lost_token_secret_replaced_and_a_changed_setting_rewritten()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        (await host.RunAsync()).ExitCode.Should().Be(0);
        var vmid = host.OrchestratorVmid;
        var before = TokenSecret(host);
        // The orchestrator's database is lost (restored from an old backup, say): it no longer holds the secret.
        File.Delete(Path.Combine(host.DataDirectory(vmid), "provisioner.db"));
        await SshServer.Run(Path.Combine(host.Bin, "pct"), "stop", vmid.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var run = await host.RunAsync(["--host-address", "127.0.0.2"]);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("token ctrlable@pve!provisioner replaced").And.Contain($"changed  start CT {vmid}");
        host.Sim.State.Guests[vmid].Running.Should().BeTrue();
        var after = host.OrchestratorEnv(vmid);
        TokenSecret(host).Should().NotBe(before);
        (await StoredTokenSecretAsync(host, vmid)).Should().Be(TokenSecret(host), "the new token's secret is what the orchestrator holds");
        after["CTRLABLE_HOSTTRIGGER__HOST"].Should().Be("127.0.0.2");
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Access.Acl.Should().HaveCount(LeastPrivilege.Spec(PveVersion.V9_1).Acls.Count, "the new token got its ACLs again");
        }

        File.ReadAllLines(Path.Combine(host.CtRoot(vmid), "run/systemctl/calls")).Count(l => l.StartsWith("restart", StringComparison.Ordinal)).Should().Be(2);
    }

    [Theory]
    [InlineData(PveVersion.V8_2)]
    [InlineData(PveVersion.V9_1)]
    public async Task The_installed_token_deploys_into_the_pool_and_cannot_touch_other_guests(PveVersion version)
    {
        await using var host = await InstallHost.StartAsync(version);
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
        var settings = ProxmoxSettingsOf(env);
        settings["Deploy:FirstBootTimeoutSeconds"] = "120";
        settings["Urls"] = $"https://127.0.0.1:{SshServer.FreePort()};http://127.0.0.1:0";
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
        token.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"PVEAPIToken={env["CTRLABLE_PROXMOX__TOKENID"]}={TokenSecret(host)}");
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

    [Fact]
    public async Task The_summary_prints_the_set_up_code_that_creates_the_first_admin_and_then_that_an_admin_exists()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);

        var run = await host.RunAsync();

        run.ExitCode.Should().Be(0, run.ToString());
        var vmid = host.OrchestratorVmid;
        var printed = System.Text.RegularExpressions.Regex.Match(run.Output, @"Set-up code:\s+([A-Z2-7-]+) ");
        printed.Success.Should().BeTrue(run.Output);
        var file = Path.Combine(host.DataDirectory(vmid), "setup-code");
        (await File.ReadAllTextAsync(file)).Trim().Should().Be(printed.Groups[1].Value, "the summary prints the code the orchestrator waits for");
        File.GetUnixFileMode(file).Should().Be((UnixFileMode)0b110_000_000);

        // The orchestrator on the container's data directory takes it for the first admin.
        using (var app = new ProvisionerApp(dataDirectory: host.DataDirectory(vmid), settings: ProxmoxSettingsOf(host.OrchestratorEnv(vmid))))
        {
            using var browser = app.CreateBrowserClient();
            var created = await browser.PostAsJsonAsync("/api/setup", new { username = "dealer", password = "site-visit-Passw0rd", setupCode = printed.Groups[1].Value });
            created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            File.Exists(file).Should().BeFalse();
        }

        var again = await host.RunAsync();
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().Contain("First admin:     exists already").And.NotContain("Set-up code:");
        File.Exists(file).Should().BeFalse("no new code once an admin exists");
    }

    public static TheoryData<string, string[], string> PreflightFailures => new()
    {
        { "not-root", [], "install.sh: must run as root (on the Proxmox VE host)" },
        { "old", [], "install.sh: Proxmox VE 8.1.4 is too old: 8.2 or later is needed" },
        { "storage", ["--storage", "tank"], "install.sh: storage 'tank' does not exist on node pve1 or holds no containers (rootdir); available: local-lvm" },
        { "bridge", ["--bridge", "vmbr7"], "install.sh: bridge 'vmbr7' does not exist on node pve1" },
        { "memory", [], "install.sh: not enough free memory on pve1: 1024 MiB needed, " },
        { "checksum", [], "install.sh: bundle checksum mismatch: expected " },
        { "option", ["--memory", "256"], "install.sh: --memory must be at least 512 (MiB) (got '256')" },
        { "vmid", ["--vmid", "500"], "install.sh: VMID 500 is taken by a guest this installation did not create: it is left alone; pick another --vmid" },
    };

    [Theory]
    [MemberData(nameof(PreflightFailures))]
    public async Task A_failed_preflight_is_one_clear_line_a_nonzero_exit_and_no_change(string failure, string[] args, string message)
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        var environment = new Dictionary<string, string>();
        switch (failure)
        {
            case "not-root":
                environment["CTRLABLE_EUID"] = "1000";
                break;
            case "old":
                // A pveversion of an older release, first on PATH.
                var old = Path.Combine(host.Directory, "old");
                Directory.CreateDirectory(old);
                await File.WriteAllTextAsync(Path.Combine(old, "pveversion"), "#!/bin/sh\necho 'pve-manager/8.1.4/ec5affc9e41f1d79 (running kernel: 6.5.11-8-pve)'\n");
                File.SetUnixFileMode(Path.Combine(old, "pveversion"), (UnixFileMode)0b111_101_101);
                environment["PATH"] = $"{old}:{host.Bin}:/usr/local/bin:/usr/bin:/bin";
                break;
            case "memory":
                lock (host.Sim.State.Sync)
                {
                    host.Sim.State.Nodes[InstallHost.Node].MaxMem = 768L << 20;
                }

                break;
            case "checksum":
                await File.WriteAllTextAsync(host.Bundle + ".sha256", new string('0', 64) + "  bundle\n");
                break;
        }

        var run = await host.RunAsync(args, environment);

        run.ExitCode.Should().NotBe(0, run.ToString());
        run.Error.TrimEnd('\n').Should().NotContain("\n", "one line").And.StartWith(message);
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Access.Pools.Should().BeEmpty();
            host.Sim.State.Access.Users.Keys.Should().Equal("root@pam");
        }
    }

    [Fact]
    public async Task A_bundle_url_is_downloaded_and_checked_against_its_sha256()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        var port = SshServer.FreePort();
        using var server = new HttpListener();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        var checksum = await File.ReadAllBytesAsync(host.Bundle + ".sha256");
        var served = new Dictionary<string, byte[]>
        {
            ["/bundle.tar.gz"] = await File.ReadAllBytesAsync(host.Bundle),
            ["/bundle.tar.gz.sha256"] = checksum,
        };
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var context = await server.GetContextAsync().WaitAsync(stop.Token);
                if (served.TryGetValue(context.Request.Url!.AbsolutePath, out var body))
                {
                    await context.Response.OutputStream.WriteAsync(body);
                }
                else
                {
                    context.Response.StatusCode = 404;
                }

                context.Response.Close();
            }
        });
        var url = $"http://127.0.0.1:{port}/bundle.tar.gz";

        var ok = await host.RunAsync(["--bundle", url, "--dry-run"]);
        ok.ExitCode.Should().Be(0, ok.ToString());
        ok.Output.Should().Contain($"bundle {InstallHost.Version}, checksum verified");

        served["/bundle.tar.gz.sha256"] = System.Text.Encoding.ASCII.GetBytes(new string('f', 64) + "  bundle.tar.gz\n");
        var bad = await host.RunAsync(["--bundle", url, "--dry-run"]);
        bad.ExitCode.Should().NotBe(0);
        bad.Error.Should().StartWith("install.sh: bundle checksum mismatch: expected ffff");

        var missing = await host.RunAsync(["--bundle", $"http://127.0.0.1:{port}/nothing.tar.gz", "--dry-run"]);
        missing.ExitCode.Should().NotBe(0);
        missing.Error.Should().StartWith($"install.sh: cannot download the bundle from http://127.0.0.1:{port}/nothing.tar.gz (curl: (22)")
            .And.EndWith("404)\n");
        missing.Error.Count(c => c == '\n').Should().Be(1);
        await stop.CancelAsync();
        await Task.WhenAny(serving, Task.Delay(1000));
    }

    [Fact]
    public async Task The_unpacked_install_sh_finds_the_tarball_it_came_from()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        File.Copy(host.Bundle, Path.Combine(host.Unpacked, "..", Path.GetFileName(host.Bundle)));

        var run = await host.RunAsync(["--dry-run"], script: Path.Combine(host.Unpacked, "install.sh"));

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain($"ok       bundle {InstallHost.Version}").And.Contain("+ pct create ");
    }

    [Fact]
    public async Task Help_documents_every_option()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        var help = await host.RunAsync(["--help"], defaults: false);

        help.ExitCode.Should().Be(0);
        foreach (var option in new[] { "--bundle PATH|URL", "--vmid", "--hostname", "--storage", "--template-storage", "--bridge", "--vlan", "--ip CIDR|dhcp", "--gateway", "--memory", "--cores", "--disk", "--port", "--node", "--proxmox-url", "--host-address", "--dry-run" })
        {
            help.Output.Should().Contain(option);
        }

        var bad = await host.RunAsync(["--colour", "blue"], defaults: false);
        bad.ExitCode.Should().NotBe(0);
        bad.Error.Should().Be("install.sh: unknown option '--colour' (see --help)\n");
    }

    [Fact]
    public void The_documented_privileges_in_install_sh_are_the_emulators_least_privilege_set()
    {
        // Parsed from the script so a changed list cannot slip past (the install runs above check the same via the emulator).
        var script = File.ReadAllText(Path.Combine(RepoPaths.Root, "install.sh"));
        var line = script.Split('\n').Single(l => l.Contains("printf '%s' \"VM.Audit", StringComparison.Ordinal));
        var privs = line[(line.IndexOf('"', StringComparison.Ordinal) + 1)..line.LastIndexOf('"')].Split(' ');
        privs.Select(p => p == "$agent" ? "VM.GuestAgent.Audit" : p).Should().BeEquivalentTo(LeastPrivilege.Privileges(PveVersion.V9_1));
        privs.Select(p => p == "$agent" ? "VM.Monitor" : p).Should().BeEquivalentTo(LeastPrivilege.Privileges(PveVersion.V8_2));
        JsonSerializer.Serialize(privs).Should().NotContain("Administrator");
    }

    /// <summary>install.sh's record of what it created: "key TAB value" lines.</summary>
    private static Dictionary<string, string> InstallRecord(InstallHost host) =>
        File.ReadAllLines(host.StateFile).Where(l => l.Contains('\t', StringComparison.Ordinal))
            .Select(l => l.Split('\t', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    private static Dictionary<string, string?> ProxmoxSettingsOf(Dictionary<string, string> env) =>
        env.Where(kv => kv.Key.StartsWith("CTRLABLE_PROXMOX__", StringComparison.Ordinal))
            .ToDictionary(kv => "Proxmox:" + kv.Key["CTRLABLE_PROXMOX__".Length..], kv => (string?)kv.Value);

    /// <summary>The installed token's secret as Proxmox knows it.</summary>
    private static string TokenSecret(InstallHost host)
    {
        lock (host.Sim.State.Sync)
        {
            return host.Sim.State.Access.Users["ctrlable@pve"].Tokens["provisioner"].Secret;
        }
    }

    /// <summary>The token secret the orchestrator holds (encrypted) in the container's data directory.</summary>
    private static async Task<string?> StoredTokenSecretAsync(InstallHost host, int vmid)
    {
        using var app = new ProvisionerApp(dataDirectory: host.DataDirectory(vmid), settings: ProxmoxSettingsOf(host.OrchestratorEnv(vmid)));
        return await app.Service<SecretStore>().GetAsync(SecretKind.ProxmoxTokenSecret, "default");
    }
}
