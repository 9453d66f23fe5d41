using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Backup;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Backup;

/// <summary><c>POST /api/settings/backup</c>: the Settings page's download.</summary>
public sealed class BackupApiTests : IDisposable
{
    private const string Passphrase = "download passphrase 42";
    private readonly ProvisionerApp _app = new();
    private readonly string _restored = Path.Combine(TempDirectory.Create("backup-api"), "data");

    public void Dispose()
    {
        _app.Dispose();
        TempDirectory.TryDelete(Path.GetDirectoryName(_restored)!);
    }

    [Fact]
    public async Task An_admin_downloads_an_encrypted_backup_named_for_the_site_and_day_that_restores_the_secrets()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin, Via.Cookie);
        await _app.Service<SecretStore>().SetAsync(SecretKind.ProjectAppSecret, CameraCredentials.SecretName(7, "porch"), "porch-Secret-1");

        using var response = await admin.PostAsJsonAsync("/api/settings/backup", new { passphrase = Passphrase });

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/octet-stream");
        var name = response.Content.Headers.ContentDisposition!.FileName!.Trim('"');
        name.Should().Be($"ctrlable-backup-{BackupFiles.SiteName()}-{DateTimeOffset.UtcNow:yyyy-MM-dd}.ctrlable-backup");
        var file = Path.Combine(Path.GetDirectoryName(_restored)!, name);
        await File.WriteAllBytesAsync(file, await response.Content.ReadAsByteArrayAsync());

        await BackupRestore.RunAsync(file, _restored, Passphrase, force: false, DateTimeOffset.UtcNow, CancellationToken.None);
        using var restored = new ProvisionerApp(dataDirectory: _restored);
        (await restored.Service<SecretStore>().GetAsync(SecretKind.ProjectAppSecret, CameraCredentials.SecretName(7, "porch"))).Should().Be("porch-Secret-1");

        var audit = (await _app.Service<AuditRepository>().PageAsync(1, 100)).Items;
        audit.Should().Contain(e => e.Route == "/api/settings/backup" && e.StatusCode == 200 && e.Target == name);
        JsonSerializer.Serialize(audit).Should().NotContain(Passphrase);
        _app.Logs.Lines.Should().NotContain(l => l.Contains(Passphrase, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_short_passphrase_is_a_validation_problem_and_only_admins_may_download()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin);
        using var tooShort = await admin.PostAsJsonAsync("/api/settings/backup", new { passphrase = "short" });
        tooShort.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        tooShort.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await tooShort.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("passphrase")[0].GetString()
            .Should().Be($"Use a passphrase of at least {BackupCipher.MinPassphraseLength} characters.");

        using var operatorClient = await _app.CreateClientAsync(Role.Operator);
        using var forbidden = await operatorClient.PostAsJsonAsync("/api/settings/backup", new { passphrase = Passphrase });
        forbidden.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }
}
