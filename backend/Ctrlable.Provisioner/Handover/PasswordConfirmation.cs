using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Config;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Handover;

/// <summary>
/// A signed-in user re-enters their password before a secret is revealed, so a session left open (or taken over) does
/// not hand out the site's credentials by itself. A wrong password counts towards the account's lockout as a failed
/// sign-in does (the endpoints are also rate-limited per address); a locked account's password is not checked.
/// </summary>
public sealed class PasswordConfirmation(UserRepository users, IPasswordHasher<string> hasher, TimeProvider time, IOptions<AuthOptions> options, ILogger<PasswordConfirmation> logger)
{
    public async Task<bool> ConfirmAsync(long userId, string password, CancellationToken ct)
    {
        var user = await users.FindAsync(userId, ct);
        var now = time.GetUtcNow();
        if (user is null || user.Disabled || user.LockedUntil is { } until && until > now)
        {
            logger.LogWarning("Password confirmation refused for user {UserId}: unknown, disabled or locked", userId);
            return false;
        }

        if (hasher.VerifyHashedPassword(user.Username, user.PasswordHash, password) == PasswordVerificationResult.Failed)
        {
            var o = options.Value;
            await users.RecordFailureAsync(user.Id, o.LockoutThreshold, now.AddMinutes(o.LockoutMinutes), ct);
            logger.LogWarning("Password confirmation failed for {Username} (failure {Count})", user.Username, user.FailedSignIns + 1);
            return false;
        }

        return true;
    }
}
