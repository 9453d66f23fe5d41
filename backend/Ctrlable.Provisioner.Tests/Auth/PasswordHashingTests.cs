using System.Net;
using System.Net.Http.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Tests.Auth;

/// <summary>
/// Passwords are hashed with PBKDF2-HMAC-SHA256 at OWASP's 600,000 iterations; the stored hash says how it was made,
/// and a weaker one (fewer iterations, or the ASP.NET Identity format of earlier versions) is redone at the next
/// successful sign-in.
/// </summary>
public sealed class PasswordHashingTests
{
    /// <summary>The production figure, not the test suite's lowered one.</summary>
    private static readonly Dictionary<string, string?> Production = new()
    {
        ["Auth:PasswordHashIterations"] = "600000",
        ["Auth:TestingOnlyAllowWeakPasswordHashing"] = "false",
    };

    public static TheoryData<string> OldFormats => ["pbkdf2-sha256 at 100000", "identity v3"];

    [Theory]
    [MemberData(nameof(OldFormats))]
    public async Task A_user_stored_with_an_old_hash_is_rehashed_at_600000_on_the_next_successful_sign_in(string format)
    {
        using var app = new ProvisionerApp(settings: Production);
        var username = await app.CreateUserAsync(Role.Viewer);
        (await StoredHashAsync(app, username)).Should().StartWith("pbkdf2-sha256$600000$", "new hashes use the production figure");
        var old = format == "identity v3"
            ? new PasswordHasher<string>().HashPassword(username, ProvisionerApp.UserPassword)
            : new PasswordHashing(Options.Create(new AuthOptions { PasswordHashIterations = 100_000 })).HashPassword(username, ProvisionerApp.UserPassword);
        await SetStoredHashAsync(app, username, old);
        using var browser = app.CreateBrowserClient();

        var wrong = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username, password = "not-the-Passw0rd-1" });

        wrong.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await StoredHashAsync(app, username)).Should().Be(old, "a wrong password changes nothing");

        var right = await browser.PostAsJsonAsync("/api/auth/sign-in", new { username, password = ProvisionerApp.UserPassword });

        right.StatusCode.Should().Be(HttpStatusCode.OK);
        var rehashed = await StoredHashAsync(app, username);
        rehashed.Should().StartWith("pbkdf2-sha256$600000$");
        PasswordHashing.IterationsOf(rehashed).Should().Be(600_000);
        app.Service<IPasswordHasher<string>>().VerifyHashedPassword(username, rehashed, ProvisionerApp.UserPassword).Should().Be(PasswordVerificationResult.Success);
        using var again = await app.SignInAsync(username, ProvisionerApp.UserPassword);
        (await StoredHashAsync(app, username)).Should().Be(rehashed, "a hash at the configured figure is kept");
    }

    [Fact]
    public void Fewer_than_600000_iterations_stop_the_start_unless_the_testing_switch_is_set()
    {
        var validator = new ConfigValidator();

        validator.Validate(null, new AuthOptions()).Succeeded.Should().BeTrue();
        new AuthOptions().PasswordHashIterations.Should().Be(600_000);
        var weak = validator.Validate(null, new AuthOptions { PasswordHashIterations = 599_999 });
        weak.Failed.Should().BeTrue();
        weak.Failures.Should().ContainSingle().Which.Should().StartWith("Auth:PasswordHashIterations must be at least 600000");
        validator.Validate(null, new AuthOptions { PasswordHashIterations = 1000, TestingOnlyAllowWeakPasswordHashing = true }).Succeeded.Should().BeTrue();
        validator.Validate(null, new AuthOptions { PasswordHashIterations = 0, TestingOnlyAllowWeakPasswordHashing = true }).Failed.Should().BeTrue();
    }

    [Fact]
    public void A_tampered_or_malformed_hash_never_verifies()
    {
        var hasher = new PasswordHashing(Options.Create(new AuthOptions { PasswordHashIterations = 1000, TestingOnlyAllowWeakPasswordHashing = true }));
        var hash = hasher.HashPassword("u", "the-Passw0rd-123");
        var parts = hash.Split('$');

        hasher.VerifyHashedPassword("u", hash, "the-Passw0rd-123").Should().Be(PasswordVerificationResult.Success);
        hasher.VerifyHashedPassword("u", hash, "the-Passw0rd-124").Should().Be(PasswordVerificationResult.Failed);
        hasher.VerifyHashedPassword("u", $"{parts[0]}$1001${parts[2]}${parts[3]}", "the-Passw0rd-123").Should().Be(PasswordVerificationResult.Failed);
        hasher.VerifyHashedPassword("u", $"{parts[0]}$99999999${parts[2]}${parts[3]}", "the-Passw0rd-123").Should().Be(PasswordVerificationResult.Failed);
        hasher.VerifyHashedPassword("u", "pbkdf2-sha256$1000$not base64$x", "the-Passw0rd-123").Should().Be(PasswordVerificationResult.Failed);
    }

    private static async Task<string> StoredHashAsync(ProvisionerApp app, string username)
    {
        await using var db = new SqliteConnection($"Data Source={app.DatabasePath}");
        return await db.QuerySingleAsync<string>("SELECT password_hash FROM users WHERE username = @username;", new { username });
    }

    private static async Task SetStoredHashAsync(ProvisionerApp app, string username, string hash)
    {
        await using var db = new SqliteConnection($"Data Source={app.DatabasePath}");
        await db.ExecuteAsync("UPDATE users SET password_hash = @hash WHERE username = @username;", new { username, hash });
    }
}
