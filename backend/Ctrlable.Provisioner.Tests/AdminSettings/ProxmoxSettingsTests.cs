using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Seeding;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Tests.AdminSettings;

/// <summary>
/// An admin points the orchestrator at a Proxmox host from Settings: the settings are tried against the host first,
/// the token secret is kept only encrypted, never returned, never logged, and every later Proxmox call uses them.
/// </summary>
public sealed class ProxmoxSettingsTests
{
    [Fact]
    public async Task Demo_mode_reports_the_simulated_host_and_no_stored_secret()
    {
        using var app = new ProvisionerApp();
        using var admin = await app.CreateClientAsync(Role.Admin);

        var view = await admin.GetFromJsonAsync<JsonElement>("/api/settings/proxmox");

        view.GetProperty("source").GetString().Should().Be("simulated");
        view.GetProperty("tokenSecretStored").GetBoolean().Should().BeFalse();
        view.GetProperty("url").GetString().Should().StartWith("https://127.0.0.1:");
    }

    [Fact]
    public async Task Saved_settings_are_tried_stored_encrypted_used_at_once_and_kept_across_restarts()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var data = TempDirectory.Create("proxmox-settings");
        using (var app = new ProvisionerApp(dataDirectory: data))
        {
            using var admin = await app.CreateClientAsync(Role.Admin);
            var before = pve.Sim.RequestCount;

            var saved = await admin.PutAsJsonAsync("/api/settings/proxmox", Request(pve, pve.Connection.TokenSecret));

            saved.StatusCode.Should().Be(HttpStatusCode.OK, await saved.Content.ReadAsStringAsync());
            var body = await saved.Content.ReadAsStringAsync();
            body.Should().NotContain(pve.Connection.TokenSecret);
            var view = JsonDocument.Parse(body).RootElement;
            view.GetProperty("source").GetString().Should().Be("settings");
            view.GetProperty("tokenSecretStored").GetBoolean().Should().BeTrue();
            view.GetProperty("updatedBy").GetString().Should().NotBeNullOrEmpty();
            pve.Sim.RequestCount.Should().BeGreaterThan(before, "the settings are tried against the host before they are saved");

            // From now on the dashboard reads this host, not the simulated one.
            var dashboard = await WaitForDashboardAsync(admin, d => !d.GetProperty("simulated").GetBoolean());
            dashboard.GetProperty("simulated").GetBoolean().Should().BeFalse();

            await using var db = new SqliteConnection($"Data Source={app.DatabasePath}");
            var stored = await db.QuerySingleAsync<string>("SELECT protected_value FROM secrets WHERE kind = 'ProxmoxTokenSecret';");
            stored.Should().NotContain(pve.Connection.TokenSecret);
            (await db.QuerySingleAsync<string>("SELECT url FROM proxmox_settings;")).Should().Be(pve.Sim.BaseAddress.GetLeftPart(UriPartial.Authority));
            app.Logs.Lines.Should().NotContain(l => l.Contains(pve.Connection.TokenSecret, StringComparison.Ordinal));
        }

        using (var restarted = new ProvisionerApp(dataDirectory: data))
        {
            using var admin = await restarted.CreateClientAsync(Role.Admin);
            var view = await admin.GetFromJsonAsync<JsonElement>("/api/settings/proxmox");
            view.GetProperty("source").GetString().Should().Be("settings");
            view.GetProperty("tokenId").GetString().Should().Be(pve.Connection.TokenId);
            (await WaitForDashboardAsync(admin, d => d.GetProperty("nodes").GetArrayLength() > 0)).GetProperty("simulated").GetBoolean().Should().BeFalse();
        }

        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task Wrong_fingerprint_secret_or_privileges_are_refused_with_the_reason_and_nothing_changes()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var powerless = pve.Sim.Seed(new SeedSpec { Users = [new UserSeed("nobody@pve", [new TokenSeed("tok")])] }).Tokens.Single();
        using var app = new ProvisionerApp();
        using var admin = await app.CreateClientAsync(Role.Admin);

        var otherFingerprint = string.Join(':', Enumerable.Repeat("AB", 32));
        var wrongPin = await admin.PutAsJsonAsync("/api/settings/proxmox", Request(pve, pve.Connection.TokenSecret) with { CertificateFingerprint = otherFingerprint });
        var wrongSecret = await admin.PutAsJsonAsync("/api/settings/proxmox", Request(pve, "00000000-0000-0000-0000-000000000000"));
        var noRights = await admin.PutAsJsonAsync("/api/settings/proxmox", new SaveRequest(pve.Sim.BaseAddress.ToString(), powerless.TokenId, powerless.Secret, pve.Sim.CertificateFingerprint));

        (await ProblemAsync(wrongPin, HttpStatusCode.UnprocessableEntity)).Should().Contain(pve.Sim.CertificateFingerprint, "the error names the certificate the host presented");
        (await ProblemAsync(wrongSecret, HttpStatusCode.UnprocessableEntity)).Should().Contain("rejected token");
        (await ProblemAsync(noRights, HttpStatusCode.UnprocessableEntity)).Should().Contain("lacks").And.Contain("/pool/ctrlable");
        var view = await admin.GetFromJsonAsync<JsonElement>("/api/settings/proxmox");
        view.GetProperty("source").GetString().Should().Be("simulated", "nothing was saved");
    }

    [Fact]
    public async Task A_changed_url_token_id_or_fingerprint_needs_the_secret_again_and_the_stored_one_goes_nowhere_new()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        using var app = new ProvisionerApp(settings: ProvisionerApp.ProxmoxSettings(pve));
        using var admin = await app.CreateClientAsync(Role.Admin);
        var before = await admin.GetStringAsync("/api/settings/proxmox");
        // Where an attacker with an admin session would like the stored secret to go: nothing may reach it.
        using var elsewhere = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        elsewhere.Start();
        var elsewhereUrl = $"https://127.0.0.1:{((IPEndPoint)elsewhere.LocalEndpoint).Port}";
        var same = Request(pve, pve.Connection.TokenSecret) with { TokenSecret = null };

        foreach (var changed in new[]
                 {
                     same with { Url = elsewhereUrl },
                     same with { Url = elsewhereUrl, CertificateFingerprint = string.Join(':', Enumerable.Repeat("AB", 32)) },
                     same with { TokenId = "attacker@pve!stolen" },
                     same with { Url = elsewhereUrl, TokenSecret = "" },
                 })
        {
            var refused = await admin.PutAsJsonAsync("/api/settings/proxmox", changed);

            refused.StatusCode.Should().Be(HttpStatusCode.BadRequest, changed.ToString());
            refused.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            var errors = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            errors.EnumerateObject().Select(e => e.Name).Should().Equal("tokenSecret");
        }

        elsewhere.Pending().Should().BeFalse("no connection was even attempted to the new address");
        (await admin.GetStringAsync("/api/settings/proxmox")).Should().Be(before, "the stored settings are unchanged");

        // The same host again keeps the stored secret; a changed address with the secret entered is tried and saved.
        (await admin.PutAsJsonAsync("/api/settings/proxmox", same)).StatusCode.Should().Be(HttpStatusCode.OK);
        var localhost = Request(pve, pve.Connection.TokenSecret) with { Url = $"https://localhost:{pve.Sim.BaseAddress.Port}" };
        (await admin.PutAsJsonAsync("/api/settings/proxmox", localhost with { TokenSecret = null })).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var accepted = await admin.PutAsJsonAsync("/api/settings/proxmox", localhost);
        accepted.StatusCode.Should().Be(HttpStatusCode.OK, await accepted.Content.ReadAsStringAsync());
        (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("url").GetString().Should().Be(localhost.Url);
        elsewhere.Pending().Should().BeFalse();
    }

    [Fact]
    public async Task Malformed_settings_get_a_validation_problem_per_field()
    {
        using var app = new ProvisionerApp();
        using var admin = await app.CreateClientAsync(Role.Admin);

        var response = await admin.PutAsJsonAsync("/api/settings/proxmox", new SaveRequest("http://pve:8006", "root", "x", "AA:BB"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        errors.EnumerateObject().Select(e => e.Name).Should().BeEquivalentTo(["url", "tokenId", "certificateFingerprint"]);
    }

    private sealed record SaveRequest(string Url, string TokenId, string? TokenSecret, string CertificateFingerprint);

    private static SaveRequest Request(ProxmoxHarness pve, string secret) =>
        new(pve.Sim.BaseAddress.GetLeftPart(UriPartial.Authority), pve.Connection.TokenId, secret, pve.Sim.CertificateFingerprint);

    private static async Task<string> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(status, body);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        return JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString()!;
    }

    private static async Task<JsonElement> WaitForDashboardAsync(HttpClient client, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var dashboard = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");
            if (done(dashboard) || DateTime.UtcNow > deadline)
            {
                return dashboard;
            }

            await Task.Delay(100);
        }
    }

    private sealed record CliRun(int ExitCode, string Output, string Error);

    /// <summary>Runs the built orchestrator as a process, as an installer does, with settings as environment variables.</summary>
    private static async Task<CliRun> RunOrchestratorAsync(IDictionary<string, string?> settings, string[] args, string? stdin, TimeSpan timeout)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in settings)
        {
            start.Environment["CTRLABLE_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var run = await ChildProcess.RunAsync(start, stdin ?? "", timeout);
        return new CliRun(run.ExitCode, run.Stdout, run.Stderr);
    }

    /// <summary>
    /// Where the secret comes from when the orchestrator starts (each test starts it as a process or twice in-process):
    /// a test class of its own so that these run beside the others.
    /// </summary>
    public sealed class Startup
    {
        [Fact]
        public async Task A_token_secret_in_the_configuration_is_moved_into_the_encrypted_store()
        {
            await using var pve = await ProxmoxHarness.StartAsync();
            var data = TempDirectory.Create("proxmox-import");
            using (var first = new ProvisionerApp(dataDirectory: data, settings: ProvisionerApp.ProxmoxSettings(pve)))
            {
                using var admin = await first.CreateClientAsync(Role.Admin);
                (await admin.GetFromJsonAsync<JsonElement>("/api/settings/proxmox")).GetProperty("source").GetString().Should().Be("configuration");
                first.Logs.Lines.Should().Contain(l => l.Contains("remove it from the configuration", StringComparison.Ordinal));
            }

            // Without the secret in the configuration the next start still connects, with the stored one.
            var withoutSecret = ProvisionerApp.ProxmoxSettings(pve);
            withoutSecret.Remove("Proxmox:TokenSecret");
            using var second = new ProvisionerApp(dataDirectory: data, settings: withoutSecret);
            using var again = await second.CreateClientAsync(Role.Admin);
            var view = await again.GetFromJsonAsync<JsonElement>("/api/settings/proxmox");
            view.GetProperty("tokenSecretStored").GetBoolean().Should().BeTrue();
            (await WaitForDashboardAsync(again, d => d.GetProperty("nodes").GetArrayLength() > 0)).GetProperty("simulated").GetBoolean().Should().BeFalse();
            TempDirectory.TryDelete(data);
        }

        [Fact]
        public async Task The_orchestrator_refuses_to_start_without_a_secret_until_the_command_stores_one()
        {
            await using var pve = await ProxmoxHarness.StartAsync();
            var data = TempDirectory.Create("proxmox-cli");
            var settings = ProvisionerApp.ProxmoxSettings(pve);
            settings.Remove("Proxmox:TokenSecret");
            settings["Storage:DataDirectory"] = data;
            settings["Storage:ReleasesDirectory"] = RepoPaths.Releases;
            settings["Urls"] = "http://127.0.0.1:0";

            var refused = await RunOrchestratorAsync(settings, [], stdin: null, TimeSpan.FromSeconds(60));
            refused.ExitCode.Should().Be(1);
            refused.Error.Trim().Should().StartWith("configuration error: Proxmox:Url is set but no token secret is stored");
            refused.Error.Should().NotContain("   at ", "no stack trace");

            (await RunOrchestratorAsync(settings, ["--has-proxmox-token-secret"], stdin: null, TimeSpan.FromSeconds(60))).ExitCode.Should().Be(1);
            var stored = await RunOrchestratorAsync(settings, ["--set-proxmox-token-secret"], stdin: pve.Connection.TokenSecret + "\n", TimeSpan.FromSeconds(60));
            stored.ExitCode.Should().Be(0, stored.Error);
            (stored.Output + stored.Error).Should().NotContain(pve.Connection.TokenSecret);
            (await RunOrchestratorAsync(settings, ["--has-proxmox-token-secret"], stdin: null, TimeSpan.FromSeconds(60))).ExitCode.Should().Be(0);

            settings.Remove("Urls");
            using var app = new ProvisionerApp(dataDirectory: data, settings: settings);
            using var admin = await app.CreateClientAsync(Role.Admin);
            (await admin.GetFromJsonAsync<JsonElement>("/api/settings/proxmox")).GetProperty("tokenSecretStored").GetBoolean().Should().BeTrue();
            TempDirectory.TryDelete(data);
        }
    }
}
