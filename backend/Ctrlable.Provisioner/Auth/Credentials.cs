using System.Text.RegularExpressions;
using FluentValidation;

namespace Ctrlable.Provisioner.Auth;

/// <summary>
/// Rules for user names and passwords, as FluentValidation rules the account requests' validators share (and the
/// <c>--create-admin</c> command, through <see cref="CreateUserRequestValidator"/>); each problem is one sentence for the
/// form field. No message carries the value: a refused password is never echoed.
/// </summary>
public static partial class Credentials
{
    public const int MinPasswordLength = 12;
    public const int MaxPasswordLength = 256;

    /// <summary>
    /// The validation's root data key naming the user a new password is for, when the request does not carry it (a
    /// password change: the signed-in user; a reset: the user being reset).
    /// </summary>
    public const string PasswordOwner = "password-owner";

    // The few passwords people type first; length alone lets these through.
    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "password1234", "password12345", "passwordpassword", "123456789012", "1234567890123", "qwertyuiop12",
        "qwertyuiopasdf", "administrator", "administrator1", "letmeinletmein", "changemechangeme", "welcome12345",
        "ctrlable1234", "ctrlablectrlable", "proxmox12345", "homeassistant", "homeassistant1",
    };

    public static string NormaliseUsername(string? username) => (username ?? "").Trim().ToLowerInvariant();

    /// <summary>A user name as it is stored (trimmed, lower case): 2–64 characters of a-z, 0-9, '.', '_' and '-'.</summary>
    public static IRuleBuilderOptions<T, string> ValidUsername<T>(this IRuleBuilder<T, string> rule) =>
        rule.Must(username => UsernamePattern().IsMatch(NormaliseUsername(username)))
            .WithMessage("Use 2–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.")
            .OverridePropertyName("username");

    /// <summary>One of the roles a user or API token can have.</summary>
    public static IRuleBuilderOptions<T, Role> ValidRole<T>(this IRuleBuilder<T, Role> rule) =>
        rule.IsInEnum().WithMessage("Choose viewer, operator or admin.").OverridePropertyName("role");

    /// <summary>
    /// A new password: long enough, not too long, not one character repeated, not a common one, and not containing the
    /// name of <paramref name="owner"/>'s user. Only the first problem is told.
    /// </summary>
    public static IRuleBuilderOptions<T, string> StrongPassword<T>(this IRuleBuilderInitial<T, string> rule, Func<T, ValidationContext<T>, string> owner) =>
        rule.Cascade(CascadeMode.Stop)
            .Must(password => (password ?? "").Length >= MinPasswordLength).WithMessage($"Use at least {MinPasswordLength} characters.")
            .Must(password => password.Length <= MaxPasswordLength).WithMessage($"Use at most {MaxPasswordLength} characters.")
            .Must(password => password.Distinct().Count() >= 5).WithMessage("Use at least 5 different characters.")
            .Must(password => !Common.Contains(password)).WithMessage("This password is too common.")
            .Must((request, password, context) => owner(request, context) is not { Length: >= 2 } username || !password.Contains(username, StringComparison.OrdinalIgnoreCase))
            .WithMessage("The password must not contain the user name.");

    /// <summary>The user <see cref="PasswordOwner"/> names; a validator run without it is a mistake in the handler.</summary>
    public static string OwnerOf<T>(ValidationContext<T> context) =>
        context.RootContextData.TryGetValue(PasswordOwner, out var owner) && owner is string username
            ? username
            : throw new InvalidOperationException($"A new password was validated without the user it is for ({nameof(PasswordOwner)}).");

    /// <summary>The root data that names the user a new password is for.</summary>
    public static IReadOnlyDictionary<string, object> ForUser(string username) => new Dictionary<string, object> { [PasswordOwner] = username };

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{1,63}$")]
    private static partial Regex UsernamePattern();
}
