using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Auth;

public sealed class AccountTests : IDisposable
{
    private readonly ProvisionerApp _app = new();

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task Setup_creates_the_first_admin_once_with_a_strong_password()
    {
        using var browser = _app.CreateBrowserClient();

        (await browser.GetFromJsonAsync<JsonElement>("/api/setup")).GetProperty("required").GetBoolean().Should().BeTrue();
        var setupCode = _app.SetupCode;
        var weak = await browser.PostAsJsonAsync("/api/setup", new { username = "Dealer", password = "short", setupCode });
        weak.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await weak.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("password")[0].GetString().Should().Contain("12 characters");
        (await browser.PostAsJsonAsync("/api/setup", new { username = "dealer", password = "dealer-dealer-123", setupCode })).StatusCode
            .Should().Be(HttpStatusCode.BadRequest, "a password containing the user name is refused");

        var created = await browser.PostAsJsonAsync("/api/setup", new { username = " Dealer ", password = "a-long-Passphrase-42", setupCode });

        created.StatusCode.Should().Be(HttpStatusCode.Created);
        var user = await created.Content.ReadFromJsonAsync<JsonElement>();
        user.GetProperty("name").GetString().Should().Be("dealer");
        user.GetProperty("role").GetString().Should().Be("admin");
        (await browser.GetFromJsonAsync<JsonElement>("/api/setup")).GetProperty("required").GetBoolean().Should().BeFalse();
        (await browser.PostAsJsonAsync("/api/setup", new { username = "other", password = "a-long-Passphrase-43", setupCode })).StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await browser.GetAsync("/api/releases")).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "after setup the API wants credentials, not setup");
    }

    [Fact]
    public async Task Before_setup_the_api_points_at_setup()
    {
        using var anonymous = _app.CreateClient();

        var response = await anonymous.GetAsync("/api/releases");

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("code").GetString().Should().Be("setup-required");
        problem.GetProperty("setupPath").GetString().Should().Be("/setup");
        (await anonymous.GetAsync("/healthz")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Sign_in_sets_a_strict_http_only_session_and_sign_out_ends_it()
    {
        var username = await _app.CreateUserAsync(Role.Operator);
        using var browser = _app.CreateBrowserClient();

        var signIn = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = username.ToUpperInvariant(), password = ProvisionerApp.UserPassword });

        signIn.StatusCode.Should().Be(HttpStatusCode.OK);
        var cookie = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(AccessControl.SessionCookie + "=", StringComparison.Ordinal));
        cookie.Should().Contain("httponly").And.Contain("samesite=strict");
        var me = await browser.GetFromJsonAsync<JsonElement>("/api/auth/me");
        me.GetProperty("name").GetString().Should().Be(username);
        me.GetProperty("role").GetString().Should().Be("operator");
        me.GetProperty("kind").GetString().Should().Be("user");

        (await browser.PostAsync("/api/auth/sign-out", null)).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await browser.GetAsync("/api/auth/me")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Wrong_passwords_lock_the_account_until_an_admin_unlocks_it()
    {
        var username = await _app.CreateUserAsync(Role.Viewer);
        using var browser = _app.CreateBrowserClient();

        for (var i = 1; i < 5; i++)
        {
            var wrong = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username, password = $"wrong-password-{i}" });
            wrong.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            (await wrong.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("wrong-credentials");
        }

        var fifth = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username, password = "wrong-password-5" });
        fifth.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        var right = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username, password = ProvisionerApp.UserPassword });
        right.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "a locked account is not even checked");

        using var admin = await _app.CreateClientAsync(Role.Admin);
        var users = await admin.GetFromJsonAsync<JsonElement>("/api/users");
        var locked = users.EnumerateArray().Single(u => u.GetProperty("username").GetString() == username);
        locked.GetProperty("locked").GetBoolean().Should().BeTrue();
        (await admin.PutAsJsonAsync($"/api/users/{locked.GetProperty("id").GetInt64()}", new { role = "viewer", disabled = false })).StatusCode.Should().Be(HttpStatusCode.OK);
        (await browser.PostAsJsonAsync("/api/auth/sign-in", new { username, password = ProvisionerApp.UserPassword })).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Unknown_users_get_the_same_answer_as_wrong_passwords()
    {
        await _app.EnsureSetUpAsync();
        using var browser = _app.CreateBrowserClient();

        var response = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = "nobody", password = "whatever-it-is-1" });

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("wrong-credentials");
    }

    [Fact]
    public async Task Unknown_user_wrong_password_and_locked_account_get_byte_identical_answers_and_the_lockout_is_audited()
    {
        var verifications = new CountingHasher();
        using var app = new ProvisionerApp(
            settings: new Dictionary<string, string?> { ["Auth:LockoutThreshold"] = "2" },
            services: s => s.AddSingleton<IPasswordHasher<string>>(sp => verifications.Wrap(ActivatorUtilities.CreateInstance<PasswordHashing>(sp))));
        var victim = await app.CreateUserAsync(Role.Viewer);
        var other = await app.CreateUserAsync(Role.Viewer);
        using var browser = app.CreateBrowserClient();
        verifications.Count = 0;
        async Task<(HttpStatusCode Status, string? Type, string Body)> SignInAsync(string username, string password)
        {
            using var response = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username, password });
            return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
        }

        var unknown = await SignInAsync("nobody-here", "some-Passw0rd-123");
        var wrong = await SignInAsync(other, "some-Passw0rd-123");
        var locking = new[] { await SignInAsync(victim, "some-Passw0rd-123"), await SignInAsync(victim, "some-Passw0rd-456") };
        var locked = await SignInAsync(victim, ProvisionerApp.UserPassword);

        unknown.Status.Should().Be(HttpStatusCode.Unauthorized);
        unknown.Type.Should().Be("application/problem+json");
        foreach (var answer in new[] { wrong, locking[0], locking[1], locked })
        {
            answer.Should().Be(unknown, "unknown, wrong and locked must not be told apart");
        }

        verifications.Count.Should().Be(5, "every refusal costs one password hash check, whether or not the account exists or is locked");

        // The lockout still holds (the right password is refused) and the audit log says why.
        using var admin = await app.CreateClientAsync(Role.Admin);
        var users = await admin.GetFromJsonAsync<JsonElement>("/api/users");
        users.EnumerateArray().Single(u => u.GetProperty("username").GetString() == victim).GetProperty("locked").GetBoolean().Should().BeTrue();
        var audit = (await admin.GetFromJsonAsync<JsonElement>("/api/audit?pageSize=100")).GetProperty("items").EnumerateArray()
            .Where(e => e.GetProperty("actorName").GetString() == victim).Select(e => e.GetProperty("target").GetString()).Reverse().ToList();
        audit.Should().HaveCount(3);
        audit[0].Should().BeNull();
        audit[1].Should().StartWith("account locked until");
        audit[2].Should().StartWith("account locked until");
    }

    [Fact]
    public async Task Session_requests_without_the_antiforgery_token_are_rejected_but_bearer_requests_need_none()
    {
        var username = await _app.CreateUserAsync(Role.Admin);
        using var browser = await _app.SignInAsync(username, ProvisionerApp.UserPassword);
        using var plain = _app.CreateBrowserClient(antiforgery: false);

        var signIn = await plain.PostAsJsonAsync("/api/auth/sign-in", new { username, password = ProvisionerApp.UserPassword });
        signIn.StatusCode.Should().Be(HttpStatusCode.BadRequest, "sign-in from a page without the token is refused (login CSRF)");
        (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("antiforgery");

        // A token fetched before signing in belongs to the anonymous caller; it does not fit the session.
        using var stale = _app.CreateBrowserClient(antiforgery: false);
        var anonymousToken = (await stale.GetFromJsonAsync<JsonElement>("/api/auth/antiforgery")).GetProperty("token").GetString();
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/sign-in") { Content = JsonContent.Create(new { username, password = ProvisionerApp.UserPassword }) };
        request.Headers.Add(AccessControl.AntiforgeryHeader, anonymousToken);
        (await stale.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.OK);
        var withStale = new HttpRequestMessage(HttpMethod.Post, "/api/tokens") { Content = JsonContent.Create(new { name = "x", role = "viewer" }) };
        withStale.Headers.Add(AccessControl.AntiforgeryHeader, anonymousToken);
        (await stale.SendAsync(withStale)).StatusCode.Should().Be(HttpStatusCode.BadRequest);

        (await browser.PostAsJsonAsync("/api/tokens", new { name = "with header", role = "viewer" })).StatusCode.Should().Be(HttpStatusCode.Created);
        using var token = await _app.CreateClientAsync(Role.Admin);
        (await token.PostAsJsonAsync("/api/tokens", new { name = "bearer", role = "viewer" })).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Changing_the_password_keeps_this_session_and_ends_the_others()
    {
        var username = await _app.CreateUserAsync(Role.Viewer);
        using var laptop = await _app.SignInAsync(username, ProvisionerApp.UserPassword);
        using var tablet = await _app.SignInAsync(username, ProvisionerApp.UserPassword);

        var wrongCurrent = await laptop.PostAsJsonAsync("/api/auth/password", new { currentPassword = "not-the-password-1", newPassword = "brand-new-Passw0rd" });
        wrongCurrent.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await wrongCurrent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("currentPassword", out _).Should().BeTrue();
        (await laptop.PostAsJsonAsync("/api/auth/password", new { currentPassword = ProvisionerApp.UserPassword, newPassword = "aaaaaaaaaaaaaaaa" }))
            .StatusCode.Should().Be(HttpStatusCode.BadRequest);

        (await laptop.PostAsJsonAsync("/api/auth/password", new { currentPassword = ProvisionerApp.UserPassword, newPassword = "brand-new-Passw0rd" }))
            .StatusCode.Should().Be(HttpStatusCode.NoContent);

        (await laptop.GetAsync("/api/auth/me")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await tablet.GetAsync("/api/auth/me")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        using var again = await _app.SignInAsync(username, "brand-new-Passw0rd");
        using var token = await _app.CreateClientAsync(Role.Admin);
        (await token.PostAsJsonAsync("/api/auth/password", new { currentPassword = "x", newPassword = "brand-new-Passw0rd" })).StatusCode
            .Should().Be(HttpStatusCode.BadRequest, "API tokens have no password");
    }

    [Fact]
    public async Task A_disabled_account_loses_its_session_at_once_and_the_last_admin_stays()
    {
        var username = await _app.CreateUserAsync(Role.Operator);
        using var session = await _app.SignInAsync(username, ProvisionerApp.UserPassword);
        using var admin = await _app.CreateClientAsync(Role.Admin);
        var users = (await admin.GetFromJsonAsync<JsonElement>("/api/users")).EnumerateArray().ToList();
        var id = users.Single(u => u.GetProperty("username").GetString() == username).GetProperty("id").GetInt64();
        var adminId = users.Single(u => u.GetProperty("username").GetString() == ProvisionerApp.AdminName).GetProperty("id").GetInt64();

        (await admin.PutAsJsonAsync($"/api/users/{id}", new { role = "operator", disabled = true })).StatusCode.Should().Be(HttpStatusCode.OK);

        (await session.GetAsync("/api/auth/me")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await admin.PutAsJsonAsync($"/api/users/{adminId}", new { role = "viewer", disabled = false })).StatusCode
            .Should().Be(HttpStatusCode.Conflict, "demoting the only admin would lock everyone out of administration");
    }

    [Fact]
    public async Task A_role_change_applies_to_a_running_session()
    {
        var username = await _app.CreateUserAsync(Role.Viewer);
        using var session = await _app.SignInAsync(username, ProvisionerApp.UserPassword);
        using var admin = await _app.CreateClientAsync(Role.Admin);
        (await session.GetAsync("/api/users")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        var id = (await admin.GetFromJsonAsync<JsonElement>("/api/users")).EnumerateArray()
            .Single(u => u.GetProperty("username").GetString() == username).GetProperty("id").GetInt64();

        await admin.PutAsJsonAsync($"/api/users/{id}", new { role = "admin", disabled = false });

        (await session.GetAsync("/api/users")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Admins_create_users_and_reset_their_passwords()
    {
        using var admin = await _app.CreateClientAsync(Role.Admin, Via.Cookie);

        var created = await admin.PostAsJsonAsync("/api/users", new { username = "tech-1", password = "tech-one-Passw0rd", role = "operator" });
        created.StatusCode.Should().Be(HttpStatusCode.Created);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        (await admin.PostAsJsonAsync("/api/users", new { username = "tech-1", password = "tech-one-Passw0rd", role = "viewer" })).StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await admin.PostAsJsonAsync("/api/users", new { username = "Bad Name!", password = "x", role = "viewer" })).StatusCode.Should().Be(HttpStatusCode.BadRequest);

        (await admin.PutAsJsonAsync($"/api/users/{id}/password", new { newPassword = "tech-one-New-Passw0rd" })).StatusCode.Should().Be(HttpStatusCode.NoContent);
        using var tech = await _app.SignInAsync("tech-1", "tech-one-New-Passw0rd");
        (await tech.GetFromJsonAsync<JsonElement>("/api/auth/me")).GetProperty("role").GetString().Should().Be("operator");
        (await admin.PutAsJsonAsync("/api/users/424242/password", new { newPassword = "tech-one-New-Passw0rd" })).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Sign_in_is_rate_limited_per_address_with_retry_after()
    {
        using var app = new ProvisionerApp(settings: new Dictionary<string, string?> { ["Auth:SignInPermitLimit"] = "3" });
        await app.EnsureSetUpAsync();
        using var browser = app.CreateBrowserClient();

        for (var i = 0; i < 3; i++)
        {
            (await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = "nobody", password = "nothing-at-all-1" })).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        }

        var limited = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username = "nobody", password = "nothing-at-all-1" });

        limited.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        limited.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        limited.Headers.RetryAfter!.Delta.Should().BePositive();
        (await browser.GetAsync("/api/setup")).StatusCode.Should().Be(HttpStatusCode.OK, "only sign-in and setup are limited");
    }

    [Fact]
    public async Task Create_admin_command_creates_the_first_admin_from_standard_input()
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var weak = await AdminCommand.RunAsync(_app.Services, "root", null, new StringReader("short\n"), output, error);
        weak.Should().Be(1);
        error.ToString().Should().Contain("create-admin: password:");

        var done = await AdminCommand.RunAsync(_app.Services, "root", null, new StringReader("headless-Passw0rd\n"), output, error);
        done.Should().Be(0);
        output.ToString().Should().Contain("'root' created").And.NotContain("headless-Passw0rd");
        using var session = await _app.SignInAsync("root", "headless-Passw0rd");

        var again = await AdminCommand.RunAsync(_app.Services, "second", "another-Passw0rd-1", new StringReader(""), output, error);
        again.Should().Be(1);
        error.ToString().Should().Contain("an admin account exists already");
    }

    /// <summary>Counts password checks, to show a refusal costs the same work whatever its reason.</summary>
    private sealed class CountingHasher
    {
        private int _count;

        public int Count { get => Volatile.Read(ref _count); set => Volatile.Write(ref _count, value); }

        public IPasswordHasher<string> Wrap(IPasswordHasher<string> inner) => new Counting(inner, this);

        private sealed class Counting(IPasswordHasher<string> inner, CountingHasher counter) : IPasswordHasher<string>
        {
            public string HashPassword(string user, string password) => inner.HashPassword(user, password);

            public PasswordVerificationResult VerifyHashedPassword(string user, string hashedPassword, string providedPassword)
            {
                Interlocked.Increment(ref counter._count);
                return inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
            }
        }
    }
}
