using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Backup;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.Provisioner.Tls;

namespace Ctrlable.Provisioner.Tests.Backup;

/// <summary>
/// <c>--backup-to</c> / <c>--restore-from</c> run as the built program (<c>dotnet Ctrlable.Provisioner.dll</c>, a child
/// process with its settings in the environment), against real data directories; the restored one is then served.
/// </summary>
public sealed class BackupRestoreTests(BackupSource source) : IClassFixture<BackupSource>
{
    [Fact]
    public async Task A_backup_restored_into_an_absent_directory_serves_the_same_admin_projects_secrets_and_certificate()
    {
        source.Made.ExitCode.Should().Be(0, source.Made.Error);
        source.Made.Output.Trim().Split('\n').Should().ContainSingle().Which.Should().StartWith($"backup: wrote {source.BackupFile} (");
        var bytes = await File.ReadAllBytesAsync(source.BackupFile);
        System.Text.Encoding.ASCII.GetString(bytes, 0, 15).Should().Be("CTRLABLE-BACKUP");
        // Encrypted: neither the secret's plaintext nor the database's own header is in the file.
        System.Text.Encoding.UTF8.GetString(bytes).Should().NotContain("SQLite format 3").And.NotContain(BackupSource.ProjectName);

        var target = Path.Combine(source.Root, "restored-" + Guid.NewGuid().ToString("N"));
        var restored = await BackupSource.RunAsync(target, ["--restore-from", source.BackupFile], passphraseVariable: BackupSource.Passphrase);
        restored.ExitCode.Should().Be(0, restored.Error);
        restored.Output.Trim().Split('\n').Should().ContainSingle().Which.Should().StartWith("restore: restored the backup of ").And.Contain($"into {target} (");
        File.ReadAllText(Path.Combine(target, BackupContents.RestoredSettingsFolder, BackupContents.SettingsFile))
            .Should().Contain($"CTRLABLE_STORAGE__DATADIRECTORY={source.Data}");

        using var app = new ProvisionerApp(dataDirectory: target);
        using var admin = await app.SignInAsync(ProvisionerApp.AdminName, ProvisionerApp.AdminPassword);
        var projects = await admin.GetFromJsonAsync<JsonElement>("/api/projects");
        projects.ToString().Should().Contain(BackupSource.ProjectName);
        (await app.Service<SecretStore>().GetAsync(SecretKind.ProjectAppSecret, CameraCredentials.SecretName(source.ProjectId, "front-door")))
            .Should().Be(BackupSource.CameraPassword, "the key ring came back with the database");
        app.Service<TlsCertificate>().Fingerprint.Should().Be(source.CertificateFingerprint, "guests pin the orchestrator's certificate");
    }

    [Fact]
    public async Task A_wrong_passphrase_is_refused_in_one_line_and_leaves_an_empty_target_as_it_was()
    {
        var target = EmptyTarget();
        var before = BackupSource.TreeHash(target);

        var run = await BackupSource.RunAsync(target, ["--restore-from", source.BackupFile], stdin: "not the passphrase at all\n");

        run.ShouldBeOneLineOnStandardError("restore: cannot decrypt the backup: wrong passphrase, or the file was changed");
        BackupSource.TreeHash(target).Should().Be(before);
    }

    [Fact]
    public async Task A_non_empty_target_is_refused_naming_it_and_left_as_it_was()
    {
        var target = EmptyTarget();
        await File.WriteAllTextAsync(Path.Combine(target, "notes.txt"), "the admin's own file");
        var before = BackupSource.TreeHash(target);

        var run = await BackupSource.RunAsync(target, ["--restore-from", source.BackupFile], passphraseVariable: BackupSource.Passphrase);

        run.ShouldBeOneLineOnStandardError($"restore: {target} is not empty (notes.txt): restore into an empty data directory, or add --force");
        BackupSource.TreeHash(target).Should().Be(before);
    }

    [Fact]
    public async Task Forced_over_a_data_directory_it_keeps_what_it_replaces_and_leaves_the_rest()
    {
        var target = EmptyTarget();
        using (var fresh = new ProvisionerApp(dataDirectory: target))
        {
            await fresh.EnsureSetUpAsync();
        }

        // This test process's idle pooled connections still point at the file the restore moves aside (the real
        // orchestrator is another process, started afresh).
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        await File.WriteAllTextAsync(Path.Combine(target, "notes.txt"), "the admin's own file");
        var oldDatabase = await File.ReadAllBytesAsync(Path.Combine(target, "provisioner.db"));

        var run = await BackupSource.RunAsync(target, ["--restore-from", source.BackupFile, "--force"], passphraseVariable: BackupSource.Passphrase);

        run.ExitCode.Should().Be(0, run.Error);
        var aside = Directory.GetDirectories(target, "before-restore-*").Should().ContainSingle().Subject;
        run.Output.Should().Contain($"are in {aside}");
        (await File.ReadAllBytesAsync(Path.Combine(aside, "provisioner.db"))).Should().Equal(oldDatabase, "the replaced database is kept, not deleted");
        Directory.GetFiles(Path.Combine(aside, "tls")).Should().NotBeEmpty("the replaced certificate is kept too");
        (await File.ReadAllTextAsync(Path.Combine(target, "notes.txt"))).Should().Be("the admin's own file");

        using var app = new ProvisionerApp(dataDirectory: target);
        (await app.Service<SecretStore>().GetAsync(SecretKind.ProjectAppSecret, CameraCredentials.SecretName(source.ProjectId, "front-door")))
            .Should().Be(BackupSource.CameraPassword);
    }

    [Fact]
    public async Task A_restore_is_refused_while_an_orchestrator_serves_the_target_and_writes_nothing()
    {
        var target = EmptyTarget();
        using var serving = new ProvisionerApp(dataDirectory: target);
        await serving.EnsureSetUpAsync();

        var run = await BackupSource.RunAsync(target, ["--restore-from", source.BackupFile, "--force"], passphraseVariable: BackupSource.Passphrase);

        run.ShouldBeOneLineOnStandardError($"restore: an orchestrator is running on {target}");
        Directory.GetDirectories(target, "before-restore-*").Should().BeEmpty();
        Directory.GetDirectories(target, ".restore-*").Should().BeEmpty();
        (await serving.Service<SecretStore>().GetAsync(SecretKind.ProjectAppSecret, CameraCredentials.SecretName(source.ProjectId, "front-door")))
            .Should().BeNull("the serving orchestrator's database was not replaced");
    }

    [Fact]
    public async Task A_second_orchestrator_refuses_to_serve_a_data_directory_another_one_serves()
    {
        var target = EmptyTarget();
        using var serving = new ProvisionerApp(dataDirectory: target);
        await serving.EnsureSetUpAsync();

        var second = await BackupSource.RunAsync(target, []);

        second.ShouldBeOneLineOnStandardError($"storage error: an orchestrator is running on {target}");
    }

    [Fact]
    public async Task A_backup_refuses_a_short_passphrase_and_a_missing_file_name()
    {
        var file = Path.Combine(source.Root, "short.ctrlable-backup");
        var shortPassphrase = await BackupSource.RunAsync(source.Data, ["--backup-to", file], passphraseVariable: "too-short");
        shortPassphrase.ShouldBeOneLineOnStandardError($"backup: the passphrase is too short: use at least {BackupCipher.MinPassphraseLength} characters");
        File.Exists(file).Should().BeFalse();

        var usage = await BackupSource.RunAsync(source.Data, ["--backup-to"], passphraseVariable: BackupSource.Passphrase);
        usage.ExitCode.Should().Be(2);
        usage.Error.Should().Contain("usage: --backup-to FILE | --restore-from FILE [--force]");
    }

    private string EmptyTarget()
    {
        var target = Path.Combine(source.Root, "target-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(target);
        return target;
    }
}
