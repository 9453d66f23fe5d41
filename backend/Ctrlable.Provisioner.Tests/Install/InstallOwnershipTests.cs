using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>
/// install.sh is root on a customer's host: it changes only what its own record (install.state) lists and what still
/// carries its mark. A user, role, container or file of the product's names that it did not create is reported and
/// left alone, and the other admin's guests (100, 999, 10000) are never touched.
/// </summary>
public sealed class InstallOwnershipTests
{
    public static TheoryData<string, string> ForeignAccess => new()
    {
        { "user", "install.sh: user ctrlable@pve exists and this installation did not create it: it is left alone (no token, no ACL)" },
        { "role", "install.sh: a role CtrlableProvisioner with other privileges (Sys.Audit,VM.Audit) exists that this installation did not create: it is left alone, never widened" },
    };

    [Theory]
    [MemberData(nameof(ForeignAccess))]
    public async Task A_user_or_role_of_the_products_name_that_install_sh_did_not_create_is_refused_before_any_change(string what, string message)
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        lock (host.Sim.State.Sync)
        {
            // Made by the admin, by hand, before the product was installed.
            if (what == "user")
            {
                host.Sim.State.Access.AddUser("ctrlable@pve").Comment = "the admin's own user";
            }
            else
            {
                host.Sim.State.Access.AddRole("CtrlableProvisioner", ["VM.Audit", "Sys.Audit"]);
            }
        }

        foreach (var args in new[] { new[] { "--dry-run" }, [] })
        {
            var run = await host.RunAsync(args);

            run.ExitCode.Should().NotBe(0, run.ToString());
            run.Error.TrimEnd('\n').Should().NotContain("\n", "one line").And.StartWith(message, "a dry run comes to the same conclusion");
        }

        lock (host.Sim.State.Sync)
        {
            var access = host.Sim.State.Access;
            access.Pools.Should().BeEmpty("nothing is changed once something of the product's names turns out not to be ours");
            access.Acl.Should().BeEmpty();
            if (what == "user")
            {
                access.Users["ctrlable@pve"].Comment.Should().Be("the admin's own user");
                access.Users["ctrlable@pve"].Tokens.Should().BeEmpty();
            }
            else
            {
                access.Roles["CtrlableProvisioner"].Should().BeEquivalentTo(["VM.Audit", "Sys.Audit"], "a role install.sh did not create is never widened");
                access.Users.Keys.Should().Equal("root@pam");
            }
        }

        File.Exists(host.StateFile).Should().BeFalse();
        host.Orchestrator().Should().BeNull();
        host.Foreigners.ShouldBeUntouched(host.Sim);
    }

    [Theory]
    [InlineData("by-name")]
    [InlineData("at-vmid")]
    [InlineData("replaced")]
    public async Task A_container_install_sh_did_not_create_is_never_used_started_or_written_to(string how)
    {
        await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
        const int Other = 700;
        var vmid = Other;
        string[] args = [];
        var message = "install.sh: a container named 'ctrlable-provisioner' (CT 700) exists that this installation did not create: it is left alone";
        switch (how)
        {
            case "by-name":
                // Someone's container with the product's default name (an earlier attempt by hand, say).
                host.Sim.AddGuest(new TemplateSeed(Other, "ctrlable-provisioner", SimGuestKind.Lxc, 4) { Description = "Ctrlable Provisioner (orchestrator), installed by install.sh" }, isTemplate: false);
                break;
            case "at-vmid":
                host.Sim.AddGuest(new TemplateSeed(Other, "ctrlable-provisioner", SimGuestKind.Lxc, 4), isTemplate: false);
                args = ["--vmid", "700"];
                message = "install.sh: VMID 700 is taken by a guest this installation did not create: it is left alone";
                break;
            case "replaced":
                // Installed; then the admin destroyed the container and made another at its VMID, same name, same words.
                (await host.RunAsync()).ExitCode.Should().Be(0);
                vmid = host.OrchestratorVmid;
                lock (host.Sim.State.Sync)
                {
                    host.Sim.State.Guests.Remove(vmid);
                }

                Directory.Delete(Path.GetDirectoryName(host.CtRoot(vmid))!, recursive: true);
                host.Sim.AddGuest(new TemplateSeed(vmid, "ctrlable-provisioner", SimGuestKind.Lxc, 4) { Description = "Ctrlable Provisioner (orchestrator), installed by install.sh" }, isTemplate: false);
                message = $"install.sh: VMID {vmid}, this installation's container, now holds a guest without its mark";
                break;
        }

        var theirs = ForeignGuests.Capture(host.Sim, [vmid]);

        foreach (var dry in new[] { true, false })
        {
            var run = await host.RunAsync(dry ? [.. args, "--dry-run"] : args);

            run.ExitCode.Should().NotBe(0, run.ToString());
            run.Error.TrimEnd('\n').Should().NotContain("\n", "one line").And.StartWith(message);
        }

        theirs.ShouldBeUntouched(host.Sim, "(never started, pushed to or run in)");
        Directory.Exists(host.CtRoot(vmid)).Should().BeFalse("nothing was pushed into it");
        host.Foreigners.ShouldBeUntouched(host.Sim);
    }

    private static async Task<string> OurLineAsync(InstallHost host, int vmid)
    {
        var publicKey = (await File.ReadAllTextAsync(Path.Combine(host.DataDirectory(vmid), "ssh", "build_ed25519.pub"))).Trim();
        return $"command=\"/usr/local/sbin/ctrlable-build\",restrict {publicKey}";
    }

    /// <summary>Whole installs next to what someone else made: a test class of its own so that it runs beside the others.</summary>
    public sealed class AfterInstall
    {
        [Fact]
        public async Task Root_authorized_keys_keeps_every_other_line_byte_for_byte_and_only_its_own_exact_line_is_replaced()
        {
            await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
            // The admin's keys: CRLF, a comment, another orchestrator's forced-command line and a key with the same comment
            // text as ours, the last one without its newline.
            const string Theirs = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7adminkey admin@laptop\r\n"
                + "# ctrlable-build keys of the other site\n"
                + "command=\"/usr/local/sbin/ctrlable-build\",restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherSitesBuildKeyxxxxxxxxxxxxxxxxxxxxxxxx ctrlable-build\n"
                + "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAdminsOwnKeyWithTheSameCommentyyyyyyyyyyyy ctrlable-build";
            Directory.CreateDirectory(Path.GetDirectoryName(host.AuthorizedKeys)!);
            await File.WriteAllTextAsync(host.AuthorizedKeys, Theirs);

            var run = await host.RunAsync();

            run.ExitCode.Should().Be(0, run.ToString());
            var vmid = host.OrchestratorVmid;
            var first = await OurLineAsync(host, vmid);
            (await File.ReadAllTextAsync(host.AuthorizedKeys)).Should().Be(Theirs + "\n" + first + "\n", "every line of theirs stays as it was; ours is added on a line of its own");

            // The container's build key is made again (its data directory restored without it, say): the new line is
            // added and only this installation's previous line removed.
            foreach (var file in new[] { "build_ed25519", "build_ed25519.pub" })
            {
                File.Delete(Path.Combine(host.DataDirectory(vmid), "ssh", file));
            }

            var again = await host.RunAsync();

            again.ExitCode.Should().Be(0, again.ToString());
            var second = await OurLineAsync(host, vmid);
            second.Should().NotBe(first);
            again.Output.Should().Contain("changed  the previous build key of this installation removed from");
            (await File.ReadAllTextAsync(host.AuthorizedKeys)).Should().Be(Theirs + "\n" + second + "\n");
            host.Foreigners.ShouldBeUntouched(host.Sim);
        }

        [Fact]
        public async Task A_file_install_sh_did_not_write_at_one_of_its_paths_is_reported_and_left_alone()
        {
            await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
            var trigger = Path.Combine(host.HostRoot, "usr/local/sbin/ctrlable-build");
            var unit = Path.Combine(host.HostRoot, "usr/local/share/ctrlable/firstboot/ctrlable-firstboot.service");
            var conf = Path.Combine(host.HostRoot, "etc/ctrlable/ctrlable-build.conf");
            // The admin's own script where install.sh puts the trigger, before the first install.
            Directory.CreateDirectory(Path.GetDirectoryName(trigger)!);
            await File.WriteAllTextAsync(trigger, "#!/bin/sh\necho the admin's own build script\n");

            var dry = await host.RunAsync(["--dry-run"]);
            dry.ExitCode.Should().NotBe(0, dry.ToString());
            dry.Output.Should().Contain($"skipped  {trigger}: differs from what this installation wrote");

            var run = await host.RunAsync();

            run.ExitCode.Should().NotBe(0, run.ToString());
            run.Output.Should().Contain($"skipped  {trigger}: differs from what this installation wrote");
            run.Error.Should().Be("install.sh: 1 item(s) left alone because this installation did not write them (see 'skipped' above)\n");
            (await File.ReadAllTextAsync(trigger)).Should().Be("#!/bin/sh\necho the admin's own build script\n");
            File.Exists(unit).Should().BeTrue("everything else is installed");
            host.OrchestratorEnv(host.OrchestratorVmid).Should().ContainKey("CTRLABLE_PROXMOX__TOKENID");

            // Later someone points the first-boot unit at a file of theirs: a link is never written through.
            var elsewhere = Path.Combine(host.Directory, "their-unit");
            await File.WriteAllTextAsync(elsewhere, "theirs\n");
            File.Delete(unit);
            File.CreateSymbolicLink(unit, elsewhere);
            // A changed setting rewrites what is still exactly this installation's (the trigger's configuration).
            var again = await host.RunAsync(["--port", "8444"]);

            again.ExitCode.Should().NotBe(0, again.ToString());
            again.Output.Should().Contain($"skipped  {trigger}").And.Contain($"skipped  {unit}: not a regular file")
                .And.Contain($"changed  {conf}");
            (await File.ReadAllTextAsync(conf)).Should().Contain(":8444\n");
            (await File.ReadAllTextAsync(trigger)).Should().Be("#!/bin/sh\necho the admin's own build script\n");
            new FileInfo(unit).LinkTarget.Should().Be(elsewhere);
            (await File.ReadAllTextAsync(elsewhere)).Should().Be("theirs\n");
            host.Foreigners.ShouldBeUntouched(host.Sim);
        }

        [Fact]
        public async Task A_pool_of_the_products_name_with_the_admins_guests_is_used_as_it_is_and_its_guests_named()
        {
            await using var host = await InstallHost.StartAsync(PveVersion.V9_1);
            lock (host.Sim.State.Sync)
            {
                host.Sim.State.Access.AddPool("ctrlable", "the admin's pool").Vms.Add(999);
            }

            var theirs = ForeignGuests.Capture(host.Sim);
            var run = await host.RunAsync();

            run.ExitCode.Should().Be(0, run.ToString());
            run.Output.Should().Contain("ok       pool ctrlable (not created by this installation: used as it is, never changed or removed; it holds guests 999");
            lock (host.Sim.State.Sync)
            {
                host.Sim.State.Access.Pools["ctrlable"].Comment.Should().Be("the admin's pool");
                host.Sim.State.Access.Pools["ctrlable"].Vms.Should().Equal(999);
            }

            File.ReadAllLines(host.StateFile).Should().NotContain(l => l.StartsWith("pool:ctrlable\t", StringComparison.Ordinal), "the pool is not this installation's");
            theirs.ShouldBeUntouched(host.Sim);
        }
    }
}
