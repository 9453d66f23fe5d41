using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Tests.AdminSettings;

/// <summary>The build key's passphrase is set by an admin, checked against the real key file, kept only encrypted.</summary>
public sealed class BuildKeySettingsTests
{
    private const string Passphrase = "build-key-Passphrase-71";

    [Fact]
    public async Task A_passphrase_is_stored_only_when_it_opens_the_key_and_never_shown()
    {
        var keys = TempDirectory.Create("build-key");
        var keyPath = Path.Combine(keys, "id_ed25519");
        await SshServer.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", Passphrase, "-C", "ctrlable-build", "-f", keyPath);

        using var app = new ProvisionerApp(settings: new Dictionary<string, string?> { ["HostTrigger:KeyPath"] = keyPath });
        using var admin = await app.CreateClientAsync(Role.Admin);
        (await admin.GetFromJsonAsync<JsonElement>("/api/settings/build-key")).GetProperty("passphraseStored").GetBoolean().Should().BeFalse();

        var wrong = await admin.PutAsJsonAsync("/api/settings/build-key/passphrase", new { passphrase = "not-the-passphrase" });
        wrong.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await wrong.Content.ReadAsStringAsync()).Should().Contain("does not open the build key");
        (await admin.GetFromJsonAsync<JsonElement>("/api/settings/build-key")).GetProperty("passphraseStored").GetBoolean().Should().BeFalse();

        var right = await admin.PutAsJsonAsync("/api/settings/build-key/passphrase", new { passphrase = Passphrase });
        right.StatusCode.Should().Be(HttpStatusCode.OK, await right.Content.ReadAsStringAsync());
        var body = await right.Content.ReadAsStringAsync();
        body.Should().NotContain(Passphrase);
        JsonDocument.Parse(body).RootElement.GetProperty("passphraseStored").GetBoolean().Should().BeTrue();
        await using (var db = new SqliteConnection($"Data Source={app.DatabasePath}"))
        {
            (await db.QuerySingleAsync<string>("SELECT protected_value FROM secrets WHERE kind = 'HostTriggerKeyPassphrase';")).Should().NotContain(Passphrase);
        }

        (await admin.DeleteAsync("/api/settings/build-key/passphrase")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await admin.DeleteAsync("/api/settings/build-key/passphrase")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await admin.GetFromJsonAsync<JsonElement>("/api/settings/build-key")).GetProperty("passphraseStored").GetBoolean().Should().BeFalse();
        app.Logs.Lines.Should().NotContain(l => l.Contains(Passphrase, StringComparison.Ordinal));
        TempDirectory.TryDelete(keys);
    }
}
