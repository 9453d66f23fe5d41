using System.Diagnostics;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.Provisioner.Tests.Releases;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>
/// deploy/ct-setup.sh, root inside the orchestrator's container, run in a stand-in container root: it creates the
/// service user, unit and application directory only where nothing of that name is (or what is there is what it
/// wrote), and never follows a link in the data directory the service user owns.
/// </summary>
public sealed class CtSetupTests : IDisposable
{
    private const string Data = "var/lib/ctrlable-provisioner";
    private readonly string _dir = TempDirectory.Create("ct-setup");

    private string Root => Path.Combine(_dir, "root");

    public CtSetupTests()
    {
        Directory.CreateDirectory(Path.Combine(Root, "etc", "systemd", "system"));
        Directory.CreateDirectory(Path.Combine(Root, "root"));
        Directory.CreateDirectory(Path.Combine(Root, "var", "lib"));
        File.WriteAllText(Path.Combine(Root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
        var bin = Path.Combine(_dir, "bin");
        Directory.CreateDirectory(bin);
        foreach (var tool in new[] { "useradd", "systemctl" })
        {
            File.CreateSymbolicLink(Path.Combine(bin, tool), Path.Combine(RepoPaths.Root, "host", "testing", tool));
        }
    }

    public void Dispose() => TempDirectory.TryDelete(_dir);

    [Theory]
    [InlineData("key")]
    [InlineData("directory")]
    public async Task Keygen_never_follows_a_link_the_service_user_put_in_its_data_directory(string link)
    {
        await InstallAsync("1.0.0");
        // What the (compromised) service could do in the directory it owns: point a name at a file of root's.
        var shadow = Path.Combine(Root, "etc", "shadow");
        await File.WriteAllTextAsync(shadow, "root:*:19000:0:99999:7:::\n");
        File.SetUnixFileMode(shadow, (UnixFileMode)0b110_100_100);
        var rootSsh = Path.Combine(Root, "root", ".ssh");
        Directory.CreateDirectory(rootSsh);
        var ssh = Path.Combine(Root, Data, "ssh");
        if (link == "key")
        {
            Directory.CreateDirectory(ssh);
            File.CreateSymbolicLink(Path.Combine(ssh, "build_ed25519"), shadow);
            File.CreateSymbolicLink(Path.Combine(ssh, "build_ed25519.pub"), shadow);
        }
        else
        {
            File.CreateSymbolicLink(ssh, rootSsh);
        }

        var (exit, _, error) = await CtSetupAsync("keygen");

        exit.Should().NotBe(0);
        error.Should().MatchRegex(@"^ct-setup: /var/lib/ctrlable-provisioner/ssh(/build_ed25519)? is a symbolic link: refusing to follow it\n$");
        File.GetUnixFileMode(shadow).Should().Be((UnixFileMode)0b110_100_100, "root's file keeps its mode");
        (await File.ReadAllTextAsync(shadow)).Should().Be("root:*:19000:0:99999:7:::\n");
        Directory.EnumerateFileSystemEntries(rootSsh).Should().BeEmpty("no key is written through the link");
    }

    [Fact]
    public async Task Keygen_makes_the_key_once_and_gives_it_to_the_service_user()
    {
        await InstallAsync("1.0.0");

        var (exit, output, error) = await CtSetupAsync("keygen");
        var (again, output2, _) = await CtSetupAsync("keygen");

        exit.Should().Be(0, error);
        again.Should().Be(0);
        output.Should().MatchRegex(@"^ssh-ed25519 \S+ ctrlable-build\n$").And.Be(output2);
        File.GetUnixFileMode(Path.Combine(Root, Data, "ssh", "build_ed25519")).Should().Be((UnixFileMode)0b110_000_000);
    }

    [Theory]
    [InlineData("user")]
    [InlineData("unit")]
    [InlineData("app")]
    public async Task Install_leaves_alone_a_user_unit_or_directory_of_its_names_that_it_did_not_create(string what)
    {
        var passwd = Path.Combine(Root, "etc", "passwd");
        var unit = Path.Combine(Root, "etc", "systemd", "system", "ctrlable-provisioner.service");
        var app = Path.Combine(Root, "opt", "ctrlable-provisioner");
        var message = what switch
        {
            "user" => "ct-setup: a user ctrlable exists in the container that ct-setup did not create: it is left alone",
            "unit" => "ct-setup: /etc/systemd/system/ctrlable-provisioner.service is not the unit ct-setup wrote: it is left alone",
            _ => "ct-setup: /opt/ctrlable-provisioner exists and ct-setup did not create it: it is left alone",
        };
        switch (what)
        {
            case "user":
                await File.AppendAllTextAsync(passwd, "ctrlable:x:1001:1001:the admin:/home/ctrlable:/bin/bash\n");
                break;
            case "unit":
                await File.WriteAllTextAsync(unit, "[Unit]\nDescription=the admin's own service\n");
                break;
            default:
                Directory.CreateDirectory(app);
                await File.WriteAllTextAsync(Path.Combine(app, "notes.txt"), "the admin's\n");
                break;
        }

        var passwdBefore = await File.ReadAllTextAsync(passwd);
        await PackBundleAsync("1.0.0");

        var (exit, _, error) = await CtSetupAsync("install");

        exit.Should().NotBe(0);
        error.Should().StartWith(message).And.EndWith(" and run install.sh again\n");
        error.TrimEnd('\n').Should().NotContain("\n", "one line");
        (await File.ReadAllTextAsync(passwd)).Should().Be(passwdBefore, "no user is added or changed");
        if (what == "unit")
        {
            (await File.ReadAllTextAsync(unit)).Should().Be("[Unit]\nDescription=the admin's own service\n");
        }
        else
        {
            File.Exists(unit).Should().BeFalse();
        }

        if (what == "app")
        {
            Directory.EnumerateFileSystemEntries(app).Should().Equal(Path.Combine(app, "notes.txt"));
        }

        Directory.Exists(Path.Combine(Root, "etc", "ctrlable-provisioner")).Should().BeFalse("nothing is made before everything was looked at");
        if (Directory.Exists(Path.Combine(Root, "opt")))
        {
            Directory.EnumerateFileSystemEntries(Path.Combine(Root, "opt")).Where(p => p != app).Should().BeEmpty("no half-unpacked directory stays behind");
        }
    }

    [Fact]
    public async Task Install_replaces_what_it_wrote_with_a_new_version_but_not_a_unit_changed_since()
    {
        var unit = Path.Combine(Root, "etc", "systemd", "system", "ctrlable-provisioner.service");
        await InstallAsync("1.0.0");
        (await File.ReadAllTextAsync(Path.Combine(Root, "etc", "passwd"))).Should().Contain("ctrlable:x:").And.Contain(":Ctrlable Provisioner service (ct-setup):");

        await InstallAsync("2.0.0");

        (await File.ReadAllTextAsync(Path.Combine(Root, "opt", "ctrlable-provisioner", "VERSION"))).Should().Be("2.0.0\n");
        (await File.ReadAllTextAsync(unit)).Should().Contain("# unit of 2.0.0");
        Directory.EnumerateFileSystemEntries(Path.Combine(Root, "opt")).Should().Equal(Path.Combine(Root, "opt", "ctrlable-provisioner"));

        // The admin edits the unit by hand: the next version does not overwrite the edit.
        await File.AppendAllTextAsync(unit, "# the admin's change\n");
        await PackBundleAsync("3.0.0");
        var (exit, _, error) = await CtSetupAsync("install");

        exit.Should().NotBe(0);
        error.Should().StartWith("ct-setup: /etc/systemd/system/ctrlable-provisioner.service is not the unit ct-setup wrote");
        (await File.ReadAllTextAsync(unit)).Should().EndWith("# the admin's change\n");
        (await File.ReadAllTextAsync(Path.Combine(Root, "opt", "ctrlable-provisioner", "VERSION"))).Should().Be("2.0.0\n", "nothing was changed");
    }

    [Fact]
    public async Task Import_base_backup_stores_the_file_through_the_service_s_own_command_and_refuses_bad_usage_or_a_missing_file_in_one_line()
    {
        var releases = BaseBackupReleases.Create();
        try
        {
            // The bundle's program stands in for the published one: this test build's orchestrator, run by ct-setup as the
            // service user with the service's settings (its data directory under the stand-in root).
            await InstallAsync("1.0.0", withOrchestrator: true);
            // What install.sh writes into the container next: the service's settings and TLS files.
            var etc = Path.Combine(Root, "etc", "ctrlable-provisioner");
            await File.WriteAllTextAsync(Path.Combine(etc, "provisioner.env"), $"CTRLABLE_STORAGE__DATADIRECTORY=/{Data}\nCTRLABLE_STORAGE__RELEASESDIRECTORY={releases}\n");
            await File.WriteAllTextAsync(Path.Combine(etc, "tls", "server.crt"), "certificate\n");
            await File.WriteAllTextAsync(Path.Combine(etc, "tls", "server.key"), "key\n");
            var work = Path.Combine(_dir, "work");
            Directory.CreateDirectory(work);
            var backup = BaseBackupUploadTests.Backup();
            await File.WriteAllBytesAsync(Path.Combine(work, "base.tar"), backup);
            await File.WriteAllBytesAsync(Path.Combine(work, "incomplete.tar"), BaseBackupUploadTests.Backup(mosquitto: false));

            // A relative path, as an admin types it after pct push: the service runs in its own directory.
            var (exit, output, error) = await CtSetupAsync(["import-base-backup", "2030.01", "base.tar"], stdin: TestBaseBackup.AdminPassword + "\n", workingDirectory: work);

            exit.Should().Be(0, error);
            output.Should().Contain($"import-base-backup: stored ctrlable-base-2030.01.tar as the base backup of release 2030.01 (SHA-256 {BaseBackupUploadTests.Sha256(backup)}");
            (output + error).Should().NotContain(TestBaseBackup.AdminPassword);
            var stored = Path.Combine(Root, Data, "base-backups", "2030.01", "ctrlable-base-2030.01.tar");
            (await File.ReadAllBytesAsync(stored)).Should().Equal(backup);

            // The orchestrator's refusal (every missing piece, exit 1) passes through; the stored backup stays.
            var refused = await CtSetupAsync(["import-base-backup", "2030.01", "incomplete.tar"], stdin: TestBaseBackup.AdminPassword + "\n", workingDirectory: work);
            refused.Exit.Should().Be(1, refused.Error);
            refused.Error.Should().Contain("import-base-backup: - The backup does not include the Mosquitto broker add-on");
            (await File.ReadAllBytesAsync(stored)).Should().Equal(backup);

            using (var app = new ProvisionerApp(releases, dataDirectory: Path.Combine(Root, Data)))
            {
                var kept = await app.Service<BaseBackupStore>().GetAsync("2030.01", CancellationToken.None);
                kept!.Credentials.Should().Be(new HaBaseCredentials(TestBaseBackup.AdminUser, TestBaseBackup.AdminPassword));
                (await app.Service<BaseBackupStore>().FindRecordAsync("2030.01", CancellationToken.None))!.StoredBy.Should().Be(BaseBackupStore.CommandLine);
            }

            foreach (var (args, message) in new[]
            {
                (new[] { "import-base-backup", "2030.01", "missing.tar" }, "ct-setup: missing.tar: no such file\n"),
                (new[] { "import-base-backup", "2030.01" }, "ct-setup: usage: ct-setup.sh import-base-backup RELEASE FILE\n"),
                (new[] { "import-base-backup" }, "ct-setup: usage: ct-setup.sh import-base-backup RELEASE FILE\n"),
            })
            {
                var bad = await CtSetupAsync(args, stdin: TestBaseBackup.AdminPassword + "\n", workingDirectory: work);
                bad.Exit.Should().NotBe(0, string.Join(' ', args));
                bad.Error.Should().Be(message, "one readable line");
                bad.Output.Should().BeEmpty();
            }
        }
        finally
        {
            TempDirectory.TryDelete(releases);
        }
    }

    [Fact]
    public async Task Backup_and_restore_run_the_service_s_own_commands_on_its_data_directory_and_refuse_bad_usage_in_one_line()
    {
        await InstallAsync("1.0.0", withOrchestrator: true);
        var etc = Path.Combine(Root, "etc", "ctrlable-provisioner");
        await File.WriteAllTextAsync(Path.Combine(etc, "provisioner.env"), $"CTRLABLE_STORAGE__DATADIRECTORY=/{Data}\nCTRLABLE_STORAGE__RELEASESDIRECTORY={RepoPaths.Releases}\n");
        await File.WriteAllTextAsync(Path.Combine(etc, "tls", "server.crt"), "certificate\n");
        await File.WriteAllTextAsync(Path.Combine(etc, "tls", "server.key"), "key\n");
        var work = Path.Combine(_dir, "work");
        Directory.CreateDirectory(work);
        const string passphrase = "ct-setup backup passphrase";
        var admin = await CtSetupAsync(["create-admin", "dealer"], stdin: "a-long-Passphrase-1\n", workingDirectory: work);
        admin.Exit.Should().Be(0, admin.Error);

        // Relative names, as an admin types them after pct push / before pct pull: the service runs in its own directory.
        var backup = await CtSetupAsync(["backup", "site.ctrlable-backup"], stdin: passphrase + "\n", workingDirectory: work);
        backup.Exit.Should().Be(0, backup.Error);
        backup.Output.Should().Contain($"backup: wrote {Path.Combine(work, "site.ctrlable-backup")} (").And.NotContain(passphrase);

        var refused = await CtSetupAsync(["restore", "site.ctrlable-backup"], stdin: passphrase + "\n", workingDirectory: work);
        refused.Exit.Should().Be(1);
        refused.Error.Should().StartWith($"restore: {Path.Combine(Root, Data)} is not empty (");

        var forced = await CtSetupAsync(["restore", "site.ctrlable-backup", "--force"], stdin: passphrase + "\n", workingDirectory: work);
        forced.Exit.Should().Be(0, forced.Error);
        forced.Output.Should().StartWith("restore: restored the backup of ");
        Directory.GetDirectories(Path.Combine(Root, Data), "before-restore-*").Should().ContainSingle();

        foreach (var (args, message) in new[]
        {
            (new[] { "restore", "missing.ctrlable-backup" }, "ct-setup: missing.ctrlable-backup: no such file\n"),
            (new[] { "restore", "site.ctrlable-backup", "--overwrite" }, "ct-setup: usage: ct-setup.sh restore FILE [--force]\n"),
            (new[] { "restore" }, "ct-setup: usage: ct-setup.sh restore FILE [--force]\n"),
            (new[] { "backup" }, "ct-setup: usage: ct-setup.sh backup FILE\n"),
        })
        {
            var bad = await CtSetupAsync(args, stdin: passphrase + "\n", workingDirectory: work);
            bad.Exit.Should().NotBe(0, string.Join(' ', args));
            bad.Error.Should().Be(message, "one readable line");
            bad.Output.Should().BeEmpty();
        }
    }

    private async Task InstallAsync(string version, bool withOrchestrator = false)
    {
        await PackBundleAsync(version, withOrchestrator);
        var (exit, _, error) = await CtSetupAsync("install");
        exit.Should().Be(0, error);
    }

    /// <summary>
    /// A bundle with what ct-setup install reads: VERSION and the unit (its text names the version); with
    /// <paramref name="withOrchestrator"/> a program that runs this test build's orchestrator with its data directory
    /// under the stand-in root (as the published one would find it in a real container).
    /// </summary>
    private async Task PackBundleAsync(string version, bool withOrchestrator = false)
    {
        var stage = Path.Combine(_dir, "stage-" + version);
        var top = Path.Combine(stage, $"ctrlable-provisioner-{version}-linux-x64");
        Directory.CreateDirectory(Path.Combine(top, "deploy"));
        Directory.CreateDirectory(Path.Combine(top, "app"));
        await File.WriteAllTextAsync(Path.Combine(top, "VERSION"), version + "\n");
        await File.WriteAllTextAsync(Path.Combine(top, "deploy", "ctrlable-provisioner.service"),
            (await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "deploy", "ctrlable-provisioner.service"))) + $"# unit of {version}\n");
        if (withOrchestrator)
        {
            var program = Path.Combine(top, "app", "Ctrlable.Provisioner");
            await File.WriteAllTextAsync(program, $$"""
                #!/bin/sh
                export CTRLABLE_STORAGE__DATADIRECTORY="$CTRLABLE_ROOT$CTRLABLE_STORAGE__DATADIRECTORY"
                exec dotnet "{{Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.dll")}}" "$@"

                """);
            File.SetUnixFileMode(program, (UnixFileMode)0b111_101_101);
        }

        await SshServer.Run("tar", "-czf", Path.Combine(Root, "root", "ctrlable-provisioner.tar.gz"), "-C", stage, Path.GetFileName(top));
    }

    private Task<(int Exit, string Output, string Error)> CtSetupAsync(params string[] args) => CtSetupAsync(args, stdin: null, workingDirectory: null);

    private async Task<(int Exit, string Output, string Error)> CtSetupAsync(string[] args, string? stdin, string? workingDirectory)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? _dir,
        };
        start.ArgumentList.Add(Path.Combine(RepoPaths.Root, "deploy", "ct-setup.sh"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = $"{Path.Combine(_dir, "bin")}:/usr/local/bin:/usr/bin:/bin";
        start.Environment["CTRLABLE_ROOT"] = Root;
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment["HOME"] = _dir;
        // An orchestrator that starts serving instead of exiting is killed at the deadline; a refusal that exits before
        // reading its input is not the test's failure (ChildProcess ignores the closed pipe).
        var run = await ChildProcess.RunAsync(start, stdin ?? "", TimeSpan.FromMinutes(2));
        return (run.ExitCode, run.Stdout, run.Stderr);
    }
}
