using System.Text.RegularExpressions;

namespace Ctrlable.Provisioner.Auth;

/// <summary>Rules for user names and passwords; each problem is one sentence for the form field.</summary>
public static partial class Credentials
{
    public const int MinPasswordLength = 12;
    public const int MaxPasswordLength = 256;

    // The few passwords people type first; length alone lets these through.
    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "password1234", "password12345", "passwordpassword", "123456789012", "1234567890123", "qwertyuiop12",
        "qwertyuiopasdf", "administrator", "administrator1", "letmeinletmein", "changemechangeme", "welcome12345",
        "ctrlable1234", "ctrlablectrlable", "proxmox12345", "homeassistant", "homeassistant1",
    };

    public static string NormaliseUsername(string? username) => (username ?? "").Trim().ToLowerInvariant();

    public static Dictionary<string, string[]> Check(string username, string? password, string passwordField = "password")
    {
        var errors = new Dictionary<string, string[]>();
        if (!UsernamePattern().IsMatch(username))
        {
            errors["username"] = ["Use 2–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit."];
        }

        var passwordErrors = CheckPassword(username, password);
        if (passwordErrors.Count > 0)
        {
            errors[passwordField] = [.. passwordErrors];
        }

        return errors;
    }

    public static List<string> CheckPassword(string username, string? password)
    {
        var errors = new List<string>();
        password ??= "";
        if (password.Length < MinPasswordLength)
        {
            errors.Add($"Use at least {MinPasswordLength} characters.");
        }
        else if (password.Length > MaxPasswordLength)
        {
            errors.Add($"Use at most {MaxPasswordLength} characters.");
        }
        else if (password.Distinct().Count() < 5)
        {
            errors.Add("Use at least 5 different characters.");
        }
        else if (Common.Contains(password))
        {
            errors.Add("This password is too common.");
        }
        else if (username.Length >= 2 && password.Contains(username, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add("The password must not contain the user name.");
        }

        return errors;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{1,63}$")]
    private static partial Regex UsernamePattern();
}
