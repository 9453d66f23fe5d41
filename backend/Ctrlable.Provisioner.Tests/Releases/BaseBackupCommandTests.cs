using System.Diagnostics;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Releases;

/// <summary>
/// <c>--import-base-backup &lt;release&gt; &lt;file&gt;</c>, run as the installer runs the orchestrator (a process of the built
/// program, settings in the environment, secrets on standard input) against a real data directory.
/// </summary>
public sealed class BaseBackupCommandTests : IDisposable
{
    private readonly string _releases = BaseBackupReleases.Create();
    private readonly string _data = TempDirectory.Create("import-data");
    private readonly string _files = TempDirectory.Create("import-files");

    public void Dispose()
    {
        TempDirectory.TryDelete(_releases);
        TempDirectory.TryDelete(_data);
        TempDirectory.TryDelete(_files);
    }

    [Fact]
    public async Task The_import_command_lists_what_a_backup_lacks_and_stores_a_complete_one_in_the_data_directory()
    {
        var incomplete = await FileAsync("incomplete.tar", BaseBackupUploadTests.Backup(mosquitto: false, frigate: false));
        var refused = await RunAsync(["--import-base-backup", "2030.01", incomplete], stdin: "base-password-1\n");
        refused.ExitCode.Should().Be(1, refused.Error);
        refused.Error.Should().Contain("import-base-backup: The base backup lacks what the deploy needs:")
            .And.Contain("- The backup does not include the Mosquitto broker add-on")
            .And.Contain("- The release deploys Frigate, but the backup has no Frigate integration");

        var encrypted = BaseBackupUploadTests.Backup(password: "headless-password-1", key: "headless-key-1");
        var path = await FileAsync("base.tar", encrypted);
        var stored = await RunAsync(["--import-base-backup", "2030.01", path], stdin: "headless-password-1\nheadless-key-1\n");
        stored.ExitCode.Should().Be(0, stored.Error);
        stored.Output.Should().Contain($"import-base-backup: stored ctrlable-base-2030.01.tar as the base backup of release 2030.01 (SHA-256 {BaseBackupUploadTests.Sha256(encrypted)}")
            .And.Contain("owner 'ctrlable', encrypted")
            .And.Contain($"add base_backup_sha256: \"{BaseBackupUploadTests.Sha256(encrypted)}\" to releases/2030.01.yaml");
        (stored.Output + stored.Error).Should().NotContain("headless-password-1").And.NotContain("headless-key-1");

        var usage = await RunAsync(["--import-base-backup", "2030.01"], stdin: null);
        usage.ExitCode.Should().Be(2);
        usage.Error.Should().Contain("usage: --import-base-backup <release> <file>");

        using var app = new ProvisionerApp(_releases, dataDirectory: _data);
        var kept = await app.Service<BaseBackupStore>().GetAsync("2030.01", CancellationToken.None);
        kept!.Credentials.Should().Be(new HaBaseCredentials(TestBaseBackup.AdminUser, "headless-password-1", "headless-key-1"));
        (await File.ReadAllBytesAsync(kept.Path)).Should().Equal(encrypted);
        (await app.Service<BaseBackupStore>().FindRecordAsync("2030.01", CancellationToken.None))!.StoredBy.Should().Be(BaseBackupStore.CommandLine);
    }

    private async Task<string> FileAsync(string name, byte[] bytes)
    {
        var path = Path.Combine(_files, name);
        await File.WriteAllBytesAsync(path, bytes);
        return path;
    }

    private sealed record CliRun(int ExitCode, string Output, string Error);

    /// <summary>Runs the built orchestrator as a process, as an installer does.</summary>
    private async Task<CliRun> RunAsync(string[] args, string? stdin)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["CTRLABLE_STORAGE__DATADIRECTORY"] = _data;
        start.Environment["CTRLABLE_STORAGE__RELEASESDIRECTORY"] = _releases;
        start.Environment.Remove(ImportBaseBackupCommand.PasswordVariable);
        start.Environment.Remove(ImportBaseBackupCommand.BackupPasswordVariable);
        // A command that does not exit (e.g. one the program does not know starts serving) is killed at the deadline.
        var run = await ChildProcess.RunAsync(start, stdin ?? "", TimeSpan.FromSeconds(120));
        return new CliRun(run.ExitCode, run.Stdout, run.Stderr);
    }
}
