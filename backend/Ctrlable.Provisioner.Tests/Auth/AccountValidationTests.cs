using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Auth;

/// <summary>
/// Every account request's rules, through the HTTP API: one validator per request shape, errors keyed by the SPA's field
/// names, run after what must come first (the caller's role, a set-up code, a user that is not there), so that an invalid
/// request is answered and audited as a valid one would be. No answer repeats a password.
/// </summary>
public sealed class AccountValidationTests : IDisposable
{
    private readonly ProvisionerApp _app = new();

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task Setup_refuses_a_bad_user_name_and_a_weak_password_at_once_but_only_with_the_right_code()
    {
        using var browser = _app.CreateBrowserClient();
        var body = new { username = "Bad Name!", password = "short", setupCode = "AAAAA-BBBBB-CCCCC-DDDDD" };

        var withoutCode = await browser.PostAsJsonAsync("/api/setup", body);
        withoutCode.StatusCode.Should().Be(HttpStatusCode.Forbidden, "without the code nothing about the request is answered");

        var invalid = await browser.PostAsJsonAsync("/api/setup", body with { setupCode = _app.SetupCode });
        var problem = await ProblemAsync(invalid, HttpStatusCode.BadRequest);
        problem.GetProperty("title").GetString().Should().Be("The admin account cannot be created.");
        Errors(problem).Should().BeEquivalentTo(
            new Dictionary<string, string[]>
            {
                ["username"] = ["Use 2–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit."],
                ["password"] = ["Use at least 12 characters."],
            });
        problem.GetRawText().Should().NotContain("short");
    }

    [Fact]
    public async Task Sign_in_without_name_or_password_is_refused_per_field_and_audited_under_the_name_given()
    {
        await _app.EnsureSetUpAsync();
        using var browser = _app.CreateBrowserClient();

        var empty = await ProblemAsync(await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = " ", password = "" }), HttpStatusCode.BadRequest);
        empty.GetProperty("title").GetString().Should().Be("Enter user name and password.");
        Errors(empty).Should().BeEquivalentTo(new Dictionary<string, string[]> { ["username"] = ["Enter your user name."], ["password"] = ["Enter your password."] });

        (await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = " Somebody ", password = "" })).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await AuditAsync("/api/auth/sign-in")).Should().Equal("user: 400", "user:somebody 400");
    }

    [Fact]
    public async Task A_new_password_must_not_contain_the_name_of_its_user_whether_changed_or_reset()
    {
        var username = await _app.CreateUserAsync(Role.Viewer, "maria");
        using var session = await _app.SignInAsync(username, ProvisionerApp.UserPassword);

        var changed = await ProblemAsync(
            await session.PostAsJsonAsync("/api/auth/password", new { currentPassword = ProvisionerApp.UserPassword, newPassword = "Maria-loves-Tea-42" }),
            HttpStatusCode.BadRequest);
        changed.GetProperty("title").GetString().Should().Be("Choose a stronger password.");
        Errors(changed).Should().BeEquivalentTo(new Dictionary<string, string[]> { ["newPassword"] = ["The password must not contain the user name."] });
        changed.GetRawText().Should().NotContain("Maria-loves-Tea-42");

        using var admin = await _app.CreateClientAsync(Role.Admin);
        var id = (await admin.GetFromJsonAsync<JsonElement>("/api/users")).EnumerateArray()
            .Single(u => u.GetProperty("username").GetString() == username).GetProperty("id").GetInt64();
        var reset = await ProblemAsync(await admin.PutAsJsonAsync($"/api/users/{id}/password", new { newPassword = "tea-for-MARIA-42" }), HttpStatusCode.BadRequest);
        Errors(reset).Should().BeEquivalentTo(new Dictionary<string, string[]> { ["newPassword"] = ["The password must not contain the user name."] });
        (await admin.PutAsJsonAsync($"/api/users/{id}/password", new { newPassword = "aaaaaaaaaaaaaaaa" })).StatusCode.Should().Be(HttpStatusCode.BadRequest);

        (await admin.PutAsJsonAsync("/api/users/424242/password", new { newPassword = "short" })).StatusCode
            .Should().Be(HttpStatusCode.NotFound, "a user that is not there is told before the password's problems");
        (await AuditAsync("/api/users/{id:long}/password")).Should().Equal("token:test admin 400", "token:test admin 400", "token:test admin 404");
    }

    [Fact]
    public async Task An_api_token_asking_to_change_a_password_is_told_it_has_none_whatever_its_body()
    {
        using var token = await _app.CreateClientAsync(Role.Admin);

        var refused = await ProblemAsync(await token.PostAsJsonAsync("/api/auth/password", new { currentPassword = "", newPassword = "x" }), HttpStatusCode.BadRequest);

        refused.GetProperty("title").GetString().Should().Be("Not a user account");
        refused.TryGetProperty("errors", out _).Should().BeFalse();
    }

    [Fact]
    public async Task Users_are_created_and_updated_with_a_known_role_only_and_viewers_are_refused_before_validation()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin);

        var created = await ProblemAsync(await admin.PostAsJsonAsync("/api/users", new { username = "tech-2", password = "tech-two-Passw0rd", role = 7 }), HttpStatusCode.BadRequest);
        created.GetProperty("title").GetString().Should().Be("The account cannot be created.");
        Errors(created).Should().BeEquivalentTo(new Dictionary<string, string[]> { ["role"] = ["Choose viewer, operator or admin."] });

        var id = (await (await admin.PostAsJsonAsync("/api/users", new { username = "tech-2", password = "tech-two-Passw0rd", role = "viewer" })).Content.ReadFromJsonAsync<JsonElement>())
            .GetProperty("id").GetInt64();
        Errors(await ProblemAsync(await admin.PutAsJsonAsync($"/api/users/{id}", new { role = 0, disabled = false }), HttpStatusCode.BadRequest))
            .Should().BeEquivalentTo(new Dictionary<string, string[]> { ["role"] = ["Choose viewer, operator or admin."] });
        (await admin.PutAsJsonAsync("/api/users/424242", new { role = 0, disabled = false })).StatusCode.Should().Be(HttpStatusCode.NotFound);

        using var viewer = await _app.CreateClientAsync(Role.Viewer);
        (await viewer.PostAsJsonAsync("/api/users", new { username = "", password = "", role = 7 })).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await viewer.PostAsJsonAsync("/api/tokens", new { name = "", role = 7 })).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await AuditAsync("/api/users/")).Should().Equal("token:test admin 400", "token:test admin 201", "token:test viewer 403");
    }

    [Fact]
    public async Task Api_tokens_need_a_name_a_known_role_and_an_expiry_in_the_future()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin);

        var refused = await ProblemAsync(
            await admin.PostAsJsonAsync("/api/tokens", new { name = "   ", role = 9, expiresAt = DateTimeOffset.UtcNow.AddDays(-1) }),
            HttpStatusCode.BadRequest);

        refused.GetProperty("title").GetString().Should().Be("The API token cannot be issued.");
        Errors(refused).Should().BeEquivalentTo(
            new Dictionary<string, string[]>
            {
                ["name"] = ["Name the token (1–100 characters), e.g. after the integration that uses it."],
                ["role"] = ["Choose viewer, operator or admin."],
                ["expiresAt"] = ["The expiry must be in the future."],
            });
        (await admin.PostAsJsonAsync("/api/tokens", new { name = new string('x', 101), role = "viewer" })).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await admin.PostAsJsonAsync("/api/tokens", new { name = "ok", role = "viewer", expiresAt = DateTimeOffset.UtcNow.AddDays(1) })).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(status, body);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static Dictionary<string, string[]> Errors(JsonElement problem) =>
        problem.GetProperty("errors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(e => e.GetString()!).ToArray());

    /// <summary>The audit entries of one route, oldest first: "kind:name status".</summary>
    private async Task<List<string>> AuditAsync(string route)
    {
        using var admin = await _app.CreateClientAsync(Role.Admin);
        return [.. (await admin.GetFromJsonAsync<JsonElement>("/api/audit?pageSize=200")).GetProperty("items").EnumerateArray()
            .Where(e => e.GetProperty("route").GetString() == route)
            .Select(e => $"{e.GetProperty("actorKind").GetString()}:{e.GetProperty("actorName").GetString()} {e.GetProperty("statusCode").GetInt32()}")
            .Reverse()];
    }
}
