using System.Net.Http.Json;
using System.Security.Cryptography;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.Tests.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Tests.Secrets;

public sealed class SecretsTests : IDisposable
{
    private readonly ProvisionerApp _app = new();

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task Secrets_are_stored_encrypted_per_kind_and_listed_without_values()
    {
        var store = _app.Service<SecretStore>();

        await store.SetAsync(SecretKind.InstanceAppSecret, "instance/42/mqtt-password", "mqtt-s3cret-value");
        await store.SetAsync(SecretKind.InstanceAppSecret, "instance/42/mqtt-password", "mqtt-s3cret-value-2");
        await store.SetAsync(SecretKind.FirstBootSecret, "release/2026.06/haos", "haos-s3cret-value");

        (await store.GetAsync(SecretKind.InstanceAppSecret, "instance/42/mqtt-password")).Should().Be("mqtt-s3cret-value-2");
        (await store.GetAsync(SecretKind.InstanceAppSecret, "instance/43/mqtt-password")).Should().BeNull();
        (await store.ListAsync(SecretKind.InstanceAppSecret, "instance/42/")).Select(s => s.Name).Should().Equal("instance/42/mqtt-password");
        await using var db = new SqliteConnection($"Data Source={_app.DatabasePath}");
        // (The demo host's release has a first-boot secret of its own.)
        var stored = (await db.QueryAsync<string>("SELECT protected_value FROM secrets WHERE name IN ('instance/42/mqtt-password', 'release/2026.06/haos');")).ToList();
        stored.Should().HaveCount(2).And.OnlyContain(v => !v.Contains("s3cret", StringComparison.Ordinal));

        // A value protected as one kind cannot be read as another.
        await db.ExecuteAsync("UPDATE secrets SET kind = 'PlatformToken' WHERE kind = 'FirstBootSecret';");
        var misread = () => store.GetAsync(SecretKind.PlatformToken, "release/2026.06/haos");
        await misread.Should().ThrowAsync<CryptographicException>();
        (await store.DeleteAsync(SecretKind.InstanceAppSecret, "instance/42/mqtt-password")).Should().BeTrue();
    }

    [Fact]
    public void The_key_ring_is_in_the_data_directory_and_readable_by_the_owner_only()
    {
        _app.Service<SecretProtector>().Protect(SecretKind.PlatformToken, "x");

        var keys = Path.Combine(_app.DataDirectory, "keys");
        Directory.GetFiles(keys, "*.xml").Should().NotBeEmpty();
        _app.Logs.Lines.Should().NotContain(l => l.Contains("XML encryptor", StringComparison.Ordinal),
            "owner-only files are the key ring's protection by design, said explicitly rather than warned about on every start");
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(keys).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            foreach (var file in Directory.GetFiles(keys))
            {
                File.GetUnixFileMode(file).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite, file);
            }
        }
    }

    /// <summary>
    /// A whole flow — setup, sign-in, users, password changes, tokens, secrets — with every log line captured
    /// at every level; then no secret value may appear in a log line, a read endpoint's answer or the audit log.
    /// </summary>
    [Fact]
    public async Task No_secret_value_reaches_a_log_line_or_a_read_endpoint()
    {
        var secrets = new List<string> { "setup-Passw0rd-4711", "second-Passw0rd-4712", "changed-Passw0rd-4713", "reset-Passw0rd-4714", "wrong-Passw0rd-4715" };
        using var browser = _app.CreateBrowserClient();
        var setupCode = _app.SetupCode;
        (await browser.PostAsJsonAsync("/api/setup", new { username = "owner", password = secrets[0], setupCode })).EnsureSuccessStatusCode();
        await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = "owner", password = secrets[4] });
        (await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = "owner", password = secrets[0] })).EnsureSuccessStatusCode();
        var user = await (await browser.PostAsJsonAsync("/api/users", new { username = "tech", password = secrets[1], role = "operator" })).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        await browser.PutAsJsonAsync($"/api/users/{user.GetProperty("id").GetInt64()}/password", new { newPassword = secrets[3] });
        (await browser.PostAsJsonAsync("/api/auth/password", new { currentPassword = secrets[0], newPassword = secrets[2] })).EnsureSuccessStatusCode();
        var issued = await (await browser.PostAsJsonAsync("/api/tokens", new { name = "integration", role = "admin" })).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var token = issued.GetProperty("token").GetString()!;
        secrets.Add(token);
        using var integrator = _app.CreateTokenClient(token);
        (await integrator.GetAsync("/api/auth/me")).EnsureSuccessStatusCode();
        using (var tech = await _app.SignInAsync("tech", secrets[3]))
        {
            (await tech.GetAsync("/api/releases")).EnsureSuccessStatusCode();
        }

        var store = _app.Service<SecretStore>();
        foreach (var (kind, value) in new[]
                 {
                     (SecretKind.ProxmoxTokenSecret, "0b5e1f5a-proxmox-token-secret"), (SecretKind.PlatformToken, "platform-token-value-9"),
                     (SecretKind.HostTriggerKeyPassphrase, "ssh-key-passphrase-9"), (SecretKind.FirstBootSecret, "first-boot-secret-9"),
                     (SecretKind.InstanceAppSecret, "instance-app-secret-9"),
                 })
        {
            await store.SetAsync(kind, "default", value);
            (await store.GetAsync(kind, "default")).Should().Be(value);
            secrets.Add(value);
        }

        (await integrator.DeleteAsync($"/api/tokens/{issued.GetProperty("summary").GetProperty("id").GetInt64()}")).EnsureSuccessStatusCode();

        // Every read endpoint without route parameters, as an admin.
        using var admin = await _app.CreateClientAsync(Role.Admin);
        var answers = new List<string>();
        foreach (var (endpoint, method, url) in AuthMatrixTests.Calls(AuthMatrixTests.Endpoints(_app)))
        {
            if (method == HttpMethod.Get && !endpoint.RoutePattern.Parameters.Any())
            {
                using var response = await admin.GetAsync(url);
                answers.Add($"{url}: {await response.Content.ReadAsStringAsync()}");
            }
        }

        answers.Should().Contain(a => a.StartsWith("/api/audit", StringComparison.Ordinal) && a.Contains("tokens", StringComparison.Ordinal));
        var logs = _app.Logs.Lines;
        logs.Should().Contain(l => l.Contains("signed in", StringComparison.Ordinal), "the flow was logged");
        foreach (var secret in secrets)
        {
            logs.Should().NotContain(l => l.Contains(secret, StringComparison.Ordinal), $"a log line contains the secret {secret[..4]}…");
            answers.Should().NotContain(a => a.Contains(secret, StringComparison.Ordinal), $"a read endpoint returns the secret {secret[..4]}…");
        }

        // The one deliberate exception: the start that created the set-up code logged it, once, for the operator.
        logs.Where(l => l.Contains(setupCode, StringComparison.Ordinal)).Should().ContainSingle().Which.Should().StartWith("Warning ");
        answers.Should().NotContain(a => a.Contains(setupCode, StringComparison.Ordinal));
    }
}
