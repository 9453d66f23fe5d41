using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ctrlable.Provisioner.Config;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Auth;

/// <summary>
/// Password hashes: PBKDF2-HMAC-SHA256 at OWASP's figure (<see cref="AuthOptions.PasswordHashIterations"/>, 600,000),
/// 16-byte salt, 32-byte key, stored as <c>pbkdf2-sha256$&lt;iterations&gt;$&lt;salt&gt;$&lt;key&gt;</c> (base64), so each hash
/// says how it was made. A hash with fewer iterations than configured, or in ASP.NET Core Identity's format (what
/// earlier versions stored), verifies as <see cref="PasswordVerificationResult.SuccessRehashNeeded"/>: the next
/// successful sign-in stores a new hash.
/// </summary>
public sealed class PasswordHashing(IOptions<AuthOptions> options) : IPasswordHasher<string>
{
    public const string Prefix = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int KeyBytes = 32;

    // A stored iteration count beyond this is not ours (and would let one row cost minutes of CPU).
    private const int MaxIterations = 10_000_000;

    // Identity's own format (version marker 0x01 = V3) is verified by Identity, then replaced.
    private static readonly PasswordHasher<string> Legacy = new();

    public string HashPassword(string user, string password)
    {
        var iterations = options.Value.PasswordHashIterations;
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var key = Derive(password, salt, iterations);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(key)}");
    }

    public PasswordVerificationResult VerifyHashedPassword(string user, string hashedPassword, string providedPassword)
    {
        if (!hashedPassword.StartsWith(Prefix + "$", StringComparison.Ordinal))
        {
            return Legacy.VerifyHashedPassword(user, hashedPassword, providedPassword) == PasswordVerificationResult.Failed
                ? PasswordVerificationResult.Failed
                : PasswordVerificationResult.SuccessRehashNeeded;
        }

        if (Parse(hashedPassword) is not { } parsed)
        {
            return PasswordVerificationResult.Failed;
        }

        var (iterations, salt, expected) = parsed;
        var actual = Derive(providedPassword, salt, iterations);
        if (!CryptographicOperations.FixedTimeEquals(actual, expected))
        {
            return PasswordVerificationResult.Failed;
        }

        return iterations < options.Value.PasswordHashIterations ? PasswordVerificationResult.SuccessRehashNeeded : PasswordVerificationResult.Success;
    }

    /// <summary>The iteration count a stored hash was made with; null for another format.</summary>
    public static int? IterationsOf(string hashedPassword) => Parse(hashedPassword)?.Iterations;

    private static (int Iterations, byte[] Salt, byte[] Key)? Parse(string hashedPassword)
    {
        var parts = hashedPassword.Split('$');
        if (parts.Length != 4 || parts[0] != Prefix
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations is < 1 or > MaxIterations)
        {
            return null;
        }

        try
        {
            var salt = Convert.FromBase64String(parts[2]);
            var key = Convert.FromBase64String(parts[3]);
            return key.Length == KeyBytes && salt.Length > 0 ? (iterations, salt, key) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static byte[] Derive(string password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, KeyBytes);
}
