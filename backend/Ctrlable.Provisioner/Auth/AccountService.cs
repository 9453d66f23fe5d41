using System.Security.Claims;
using Ctrlable.Provisioner.Config;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Auth;

public abstract record SignInResult
{
    public sealed record Success(UserRow User) : SignInResult;

    public sealed record WrongCredentials : SignInResult;

    public sealed record Locked(DateTimeOffset Until) : SignInResult;
}

/// <summary>Dealer accounts: setup, sign-in with lockout, passwords, the session principal.</summary>
public sealed class AccountService(
    UserRepository users,
    SetupState setup,
    SetupCode setupCode,
    IPasswordHasher<string> hasher,
    TimeProvider time,
    IOptions<AuthOptions> options,
    ILogger<AccountService> logger)
{
    // Verifying against this when the account does not exist, is disabled or is locked costs what a real check costs,
    // so the answer's timing does not tell them apart either (same hasher, same iterations).
    private readonly Lazy<string> _dummyHash = new(() => hasher.HashPassword("", Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16))));

    /// <summary>Creates the first admin, or null when setup has already been done.</summary>
    public async Task<UserRow?> CreateFirstAdminAsync(string username, string password, CancellationToken ct)
    {
        var id = await users.InsertFirstAdminAsync(username, hasher.HashPassword(username, password), time.GetUtcNow(), ct);
        if (id is null)
        {
            return null;
        }

        setup.MarkDone();
        setupCode.Remove();
        logger.LogInformation("First admin {Username} created", username);
        return await users.FindAsync(id.Value, ct);
    }

    /// <summary>Creates a user, or null when the name is taken.</summary>
    public async Task<UserRow?> CreateAsync(string username, string password, Role role, CancellationToken ct)
    {
        var id = await users.InsertAsync(username, hasher.HashPassword(username, password), role, time.GetUtcNow(), ct);
        if (id is null)
        {
            return null;
        }

        setup.MarkDone();
        setupCode.Remove();
        logger.LogInformation("User {Username} created with role {Role}", username, role.Name());
        return await users.FindAsync(id.Value, ct);
    }

    public async Task<SignInResult> SignInAsync(string username, string password, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var user = await users.FindByNameAsync(username, ct);
        if (user is null || user.Disabled)
        {
            hasher.VerifyHashedPassword(username, _dummyHash.Value, password);
            logger.LogInformation("Sign-in refused for {Username}: unknown or disabled account", username);
            return new SignInResult.WrongCredentials();
        }

        // A locked account's password is not checked (guessing on must not confirm one); the dummy costs the same time.
        if (user.LockedUntil is { } until && until > now)
        {
            hasher.VerifyHashedPassword(username, _dummyHash.Value, password);
            logger.LogWarning("Sign-in refused for {Username}: locked until {Until:O}", username, until);
            return new SignInResult.Locked(until);
        }

        var verdict = await VerifyCountingFailureAsync(user, password, now, ct);
        if (verdict == PasswordVerificationResult.Failed)
        {
            var o = options.Value;
            logger.LogWarning("Sign-in failed for {Username} (failure {Count})", username, user.FailedSignIns + 1);
            return user.FailedSignIns + 1 >= o.LockoutThreshold
                ? new SignInResult.Locked(now.AddMinutes(o.LockoutMinutes))
                : new SignInResult.WrongCredentials();
        }

        var rehash = verdict == PasswordVerificationResult.SuccessRehashNeeded ? hasher.HashPassword(user.Username, password) : null;
        await users.RecordSuccessAsync(user.Id, rehash, now, ct);
        logger.LogInformation("User {Username} signed in", username);
        return new SignInResult.Success(user);
    }

    /// <summary>
    /// A signed-in user re-enters their password (before a secret is revealed), so a session left open (or taken over) does
    /// not hand out the site's credentials by itself. As at sign-in, a wrong password counts towards the account's lockout
    /// and a locked account's password is not checked.
    /// </summary>
    public async Task<bool> ConfirmPasswordAsync(long userId, string password, CancellationToken ct)
    {
        var user = await users.FindAsync(userId, ct);
        var now = time.GetUtcNow();
        if (user is null || user.Disabled || user.LockedUntil is { } until && until > now)
        {
            logger.LogWarning("Password confirmation refused for user {UserId}: unknown, disabled or locked", userId);
            return false;
        }

        if (await VerifyCountingFailureAsync(user, password, now, ct) == PasswordVerificationResult.Failed)
        {
            logger.LogWarning("Password confirmation failed for {Username} (failure {Count})", user.Username, user.FailedSignIns + 1);
            return false;
        }

        return true;
    }

    /// <summary>Checks the user's password; a wrong one is counted, and locks the account at Auth:LockoutThreshold.</summary>
    private async Task<PasswordVerificationResult> VerifyCountingFailureAsync(UserRow user, string password, DateTimeOffset now, CancellationToken ct)
    {
        var verdict = hasher.VerifyHashedPassword(user.Username, user.PasswordHash, password);
        if (verdict == PasswordVerificationResult.Failed)
        {
            var o = options.Value;
            await users.RecordFailureAsync(user.Id, o.LockoutThreshold, now.AddMinutes(o.LockoutMinutes), ct);
        }

        return verdict;
    }

    /// <summary>Checks the current password and sets a new one; false when the current one is wrong.</summary>
    public async Task<UserRow?> ChangePasswordAsync(long userId, string currentPassword, string newPassword, CancellationToken ct)
    {
        var user = await users.FindAsync(userId, ct);
        if (user is null || hasher.VerifyHashedPassword(user.Username, user.PasswordHash, currentPassword) == PasswordVerificationResult.Failed)
        {
            return null;
        }

        await users.SetPasswordAsync(userId, hasher.HashPassword(user.Username, newPassword), time.GetUtcNow(), ct);
        logger.LogInformation("User {Username} changed their password", user.Username);
        return await users.FindAsync(userId, ct);
    }

    public async Task<bool> ResetPasswordAsync(long userId, string newPassword, CancellationToken ct)
    {
        var done = await users.SetPasswordAsync(userId, hasher.HashPassword("", newPassword), time.GetUtcNow(), ct);
        if (done)
        {
            logger.LogInformation("Password of user {UserId} was reset by an admin", userId);
        }

        return done;
    }

    /// <summary>The cookie principal of a user; its stamp lets a password change end other sessions.</summary>
    public static ClaimsPrincipal Principal(UserRow user) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Claim(ClaimTypes.Name, user.Username),
                new Claim(ClaimTypes.Role, user.Role),
                new Claim(ActorClaims.Kind, ActorClaims.UserKind),
                new Claim(ActorClaims.SecurityStamp, user.SecurityStamp),
            ],
            CookieAuthenticationDefaults.AuthenticationScheme));

    /// <summary>
    /// Every cookie request re-reads the user, so a disabled account, a changed role or a changed password
    /// takes effect at once instead of when the cookie expires.
    /// </summary>
    public async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        var principal = context.Principal;
        if (principal is null
            || !long.TryParse(principal.FindFirstValue(ClaimTypes.NameIdentifier), out var id)
            || await users.FindAsync(id, context.HttpContext.RequestAborted) is not { Disabled: false } user
            || user.SecurityStamp != principal.FindFirstValue(ActorClaims.SecurityStamp))
        {
            context.RejectPrincipal();
            return;
        }

        if (user.Role != principal.FindFirstValue(ClaimTypes.Role) || user.Username != principal.FindFirstValue(ClaimTypes.Name))
        {
            context.ReplacePrincipal(Principal(user));
            context.ShouldRenew = true;
        }
    }
}

/// <summary>
/// Whether the first admin exists. Cached once true: an installation never goes back to "not set up"
/// (users can be disabled, never deleted).
/// </summary>
public sealed class SetupState(UserRepository users)
{
    private volatile bool _done;

    public async ValueTask<bool> IsDoneAsync(CancellationToken ct = default)
    {
        if (!_done && await users.AnyAsync(ct))
        {
            _done = true;
        }

        return _done;
    }

    public void MarkDone() => _done = true;
}
