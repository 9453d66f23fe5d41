using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.Provisioner.Tests.Auth;

public sealed class ApiTokenTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 6, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly ProvisionerApp _app;

    public ApiTokenTests() => _app = new ProvisionerApp(time: _time);

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task A_token_is_shown_once_stored_as_a_hash_and_works_as_bearer()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin, Via.Cookie);

        var created = await admin.PostAsJsonAsync("/api/tokens", new { name = "Home Assistant integration", role = "operator" });

        created.StatusCode.Should().Be(HttpStatusCode.Created);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var token = body.GetProperty("token").GetString()!;
        token.Should().StartWith("ctp_").And.HaveLength(47);
        body.GetProperty("summary").GetProperty("prefix").GetString().Should().Be(token[..12]);
        body.GetProperty("summary").GetProperty("state").GetString().Should().Be("active");

        var list = await admin.GetStringAsync("/api/tokens");
        list.Should().Contain("Home Assistant integration").And.NotContain(token);
        await using (var db = new SqliteConnection($"Data Source={_app.DatabasePath}"))
        {
            var stored = await db.QuerySingleAsync<string>("SELECT token_hash FROM api_tokens WHERE name = 'Home Assistant integration';");
            stored.Should().Be(ApiTokenService.Hash(token)).And.NotContain(token);
            (await db.ExecuteScalarAsync<long>("SELECT count(*) FROM api_tokens WHERE token_hash LIKE '%' || @token || '%' OR prefix = @token;", new { token })).Should().Be(0);
        }

        using var integrator = _app.CreateTokenClient(token);
        var me = await integrator.GetFromJsonAsync<JsonElement>("/api/auth/me");
        me.GetProperty("kind").GetString().Should().Be("token");
        me.GetProperty("role").GetString().Should().Be("operator");
        (await integrator.GetAsync("/api/tokens")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_revoked_token_stops_working_at_once()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin);
        var body = await (await admin.PostAsJsonAsync("/api/tokens", new { name = "to revoke", role = "viewer" })).Content.ReadFromJsonAsync<JsonElement>();
        using var integrator = _app.CreateTokenClient(body.GetProperty("token").GetString()!);
        (await integrator.GetAsync("/api/releases")).StatusCode.Should().Be(HttpStatusCode.OK);
        var id = body.GetProperty("summary").GetProperty("id").GetInt64();

        (await admin.DeleteAsync($"/api/tokens/{id}")).StatusCode.Should().Be(HttpStatusCode.NoContent);

        var refused = await integrator.GetAsync("/api/releases");
        refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        refused.Headers.WwwAuthenticate.ToString().Should().Be("Bearer");
        var listed = (await admin.GetFromJsonAsync<JsonElement>("/api/tokens")).EnumerateArray().Single(t => t.GetProperty("id").GetInt64() == id);
        listed.GetProperty("state").GetString().Should().Be("revoked");
        (await admin.DeleteAsync("/api/tokens/424242")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_token_expires_at_its_expiry()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin);
        (await admin.PostAsJsonAsync("/api/tokens", new { name = "past", role = "viewer", expiresAt = _time.GetUtcNow().AddMinutes(-1) }))
            .StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var body = await (await admin.PostAsJsonAsync("/api/tokens", new { name = "a day", role = "viewer", expiresAt = _time.GetUtcNow().AddDays(1) }))
            .Content.ReadFromJsonAsync<JsonElement>();
        using var integrator = _app.CreateTokenClient(body.GetProperty("token").GetString()!);
        (await integrator.GetAsync("/api/releases")).StatusCode.Should().Be(HttpStatusCode.OK);

        _time.Advance(TimeSpan.FromDays(1));

        (await integrator.GetAsync("/api/releases")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        var listed = (await admin.GetFromJsonAsync<JsonElement>("/api/tokens")).EnumerateArray().Single(t => t.GetProperty("name").GetString() == "a day");
        listed.GetProperty("state").GetString().Should().Be("expired");
        listed.GetProperty("lastUsedAt").GetDateTimeOffset().Should().Be(_time.GetUtcNow().AddDays(-1));
    }

    [Fact]
    public async Task Malformed_and_unknown_bearer_tokens_are_401()
    {
        await _app.EnsureSetUpAsync();
        foreach (var token in new[] { "ctp_unknown", "not-a-ctrlable-token", new string('x', 500) })
        {
            using var client = _app.CreateTokenClient(token);
            (await client.GetAsync("/api/releases")).StatusCode.Should().Be(HttpStatusCode.Unauthorized, token);
        }
    }
}
