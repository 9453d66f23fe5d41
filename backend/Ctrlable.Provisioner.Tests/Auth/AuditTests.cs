using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Auth;

public sealed class AuditTests : IDisposable
{
    private readonly ProvisionerApp _app = new();

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task Every_mutating_call_is_audited_with_actor_route_target_and_result_but_no_body()
    {
        using var browser = _app.CreateBrowserClient();
        (await browser.PostAsJsonAsync("/api/setup", new { username = "owner", password = "kitchen-Passw0rd-123", setupCode = _app.SetupCode })).EnsureSuccessStatusCode();
        (await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = "owner", password = "wrong-password-123" })).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = "owner", password = "kitchen-Passw0rd-123" })).EnsureSuccessStatusCode();
        var user = await (await browser.PostAsJsonAsync("/api/users", new { username = "tech", password = "handy-Passw0rd-123", role = "operator" })).Content.ReadFromJsonAsync<JsonElement>();
        var userId = user.GetProperty("id").GetInt64();
        (await browser.PutAsJsonAsync($"/api/users/{userId}", new { role = "viewer", disabled = false })).EnsureSuccessStatusCode();
        (await browser.PutAsJsonAsync($"/api/users/{userId}/password", new { newPassword = "fresh-Passw0rd-456" })).EnsureSuccessStatusCode();
        var token = await (await browser.PostAsJsonAsync("/api/tokens", new { name = "integration", role = "viewer" })).Content.ReadFromJsonAsync<JsonElement>();
        var tokenId = token.GetProperty("summary").GetProperty("id").GetInt64();
        using (var integrator = _app.CreateTokenClient(token.GetProperty("token").GetString()!))
        {
            (await integrator.PostAsync("/api/releases/validate", new StringContent("release: x", System.Text.Encoding.UTF8, "application/yaml"))).StatusCode.Should().Be(HttpStatusCode.BadRequest);
            (await integrator.PostAsJsonAsync("/api/users", new { })).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        }

        (await browser.DeleteAsync($"/api/tokens/{tokenId}")).EnsureSuccessStatusCode();
        (await browser.PostAsJsonAsync("/api/auth/password", new { currentPassword = "kitchen-Passw0rd-123", newPassword = "garden-Passw0rd-789" })).EnsureSuccessStatusCode();
        (await browser.GetAsync("/api/releases")).EnsureSuccessStatusCode();
        (await browser.PostAsync("/api/auth/sign-out", null)).EnsureSuccessStatusCode();

        using var admin = await _app.CreateClientAsync(Role.Admin);
        var page = await admin.GetFromJsonAsync<JsonElement>("/api/audit?pageSize=100");
        var entries = page.GetProperty("items").EnumerateArray()
            .Select(e => $"{e.GetProperty("actorKind").GetString()}:{e.GetProperty("actorName").GetString()} {e.GetProperty("method").GetString()} {e.GetProperty("route").GetString()} [{e.GetProperty("target").GetString()}] {e.GetProperty("statusCode").GetInt32()}")
            .Reverse()
            .ToList();

        entries.Should().Equal(
            "user:owner POST /api/setup/ [user owner] 201",
            "user:owner POST /api/auth/sign-in [] 401",
            "user:owner POST /api/auth/sign-in [] 200",
            "user:owner POST /api/users/ [user tech] 201",
            $"user:owner PUT /api/users/{{id:long}} [id={userId}; user tech] 200",
            $"user:owner PUT /api/users/{{id:long}}/password [id={userId}; user tech] 204",
            $"user:owner POST /api/tokens/ [token {tokenId} (integration)] 201",
            "token:integration POST /api/releases/validate [] 400",
            "token:integration POST /api/users/ [] 403",
            $"user:owner DELETE /api/tokens/{{id:long}} [id={tokenId}] 204",
            "user:owner POST /api/auth/password [user owner] 204",
            "user:owner POST /api/auth/sign-out [] 204");
        page.GetProperty("total").GetInt64().Should().Be(12);
        var raw = page.GetRawText();
        raw.Should().NotContain("Passw0rd").And.NotContain(token.GetProperty("token").GetString()!);
        page.GetProperty("items")[0].GetProperty("at").GetDateTimeOffset().Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task The_audit_log_pages_newest_first_and_is_admin_only()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin);
        for (var i = 0; i < 5; i++)
        {
            await admin.PostAsJsonAsync("/api/tokens", new { name = $"t{i}", role = "viewer" });
        }

        var second = await admin.GetFromJsonAsync<JsonElement>("/api/audit?page=2&pageSize=2");

        second.GetProperty("total").GetInt64().Should().Be(5);
        second.GetProperty("page").GetInt32().Should().Be(2);
        second.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("target").GetString()).Should().Equal(new[] { "token 4 (t2)", "token 3 (t1)" }, "token 1 is the test client's own");
        (await admin.GetAsync("/api/audit?pageSize=1000")).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        using var operatorClient = await _app.CreateClientAsync(Role.Operator);
        (await operatorClient.GetAsync("/api/audit")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Entries_older_than_the_retention_are_pruned_and_newer_ones_kept()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
        using var app = new ProvisionerApp(time: time, settings: new Dictionary<string, string?> { ["Auth:AuditRetentionDays"] = "30" });
        await app.EnsureSetUpAsync();
        var audit = app.Service<AuditRepository>();
        var now = time.GetUtcNow();
        await audit.AppendAsync(new AuditEntry(0, now.AddDays(-31), "user", "old", "POST", "/api/x", null, 200, null));
        await audit.AppendAsync(new AuditEntry(0, now.AddDays(-29), "user", "recent", "POST", "/api/x", null, 200, null));

        var deleted = await app.Service<AuditRetention>().PruneAsync(CancellationToken.None);

        deleted.Should().Be(1);
        var (items, _) = await audit.PageAsync(1, 100);
        items.Select(i => i.ActorName).Should().Contain("recent").And.NotContain("old");
    }
}
