using System.Net;
using System.Net.Http.Json;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>install.sh run again on a host it installed (see <see cref="InstallTests"/>): repairs, and the set-up code.</summary>
public sealed class InstallRerunTests
{
    [Fact]
    public async Task A_stopped_container_is_started_a_lost_token_secret_replaced_and_a_changed_setting_rewritten()
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        (await host.RunAsync()).ExitCode.Should().Be(0);
        var vmid = host.OrchestratorVmid;
        var before = InstallTests.TokenSecret(host);
        // The orchestrator's database is lost (restored from an old backup, say): it no longer holds the secret.
        File.Delete(Path.Combine(host.DataDirectory(vmid), "provisioner.db"));
        lock (host.Sim.State.Sync)
        {
            // Installed before containers followed the host's time zone.
            host.Sim.State.Guests[vmid].Config.Remove("timezone").Should().BeTrue("a new container follows the host's time zone");
        }

        await SshServer.Run(Path.Combine(host.Bin, "pct"), "stop", vmid.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var run = await host.RunAsync(["--host-address", "127.0.0.2"]);

        run.ExitCode.Should().Be(0, run.ToString());
        run.Output.Should().Contain("token ctrlable@pve!provisioner replaced").And.Contain($"changed  start CT {vmid}")
            .And.Contain($"changed  CT {vmid} follows the host's time zone");
        host.Sim.State.Guests[vmid].Running.Should().BeTrue();
        host.Sim.State.Guests[vmid].Config["timezone"].Should().Be("host", "backup schedules are in the site's local time");
        var after = host.OrchestratorEnv(vmid);
        InstallTests.TokenSecret(host).Should().NotBe(before);
        (await InstallTests.StoredTokenSecretAsync(host, vmid)).Should().Be(InstallTests.TokenSecret(host), "the new token's secret is what the orchestrator holds");
        after["CTRLABLE_HOSTTRIGGER__HOST"].Should().Be("127.0.0.2");
        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Access.Acl.Should().HaveCount(LeastPrivilege.Spec(PveVersion.V9_1).Acls.Count, "the new token got its ACLs again");
        }

        File.ReadAllLines(Path.Combine(host.CtRoot(vmid), "run/systemctl/calls")).Count(l => l.StartsWith("restart", StringComparison.Ordinal)).Should().Be(2);
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
        using (var app = new ProvisionerApp(dataDirectory: host.DataDirectory(vmid), settings: InstallTests.ProxmoxSettingsOf(host.OrchestratorEnv(vmid))))
        {
            using var browser = app.CreateBrowserClient();
            var created = await browser.PostAsJsonAsync("/api/setup", new { username = "dealer", password = "site-visit-Passw0rd", setupCode = printed.Groups[1].Value });
            created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            File.Exists(file).Should().BeFalse();
        }

        lock (host.Sim.State.Sync)
        {
            host.Sim.State.Guests[vmid].Config["timezone"] = "Europe/Berlin"; // the admin's own choice
        }

        var again = await host.RunAsync();
        again.ExitCode.Should().Be(0, again.ToString());
        again.Output.Should().Contain("First admin:     exists already").And.NotContain("Set-up code:").And.Contain($"CT {vmid} time zone Europe/Berlin");
        host.Sim.State.Guests[vmid].Config["timezone"].Should().Be("Europe/Berlin", "a zone the admin set is kept");
        File.Exists(file).Should().BeFalse("no new code once an admin exists");
    }
}
