using FluentValidation;

namespace Ctrlable.Provisioner.Auth;

// One validator per account request. The handlers run them after what must come first (the set-up code, a user that
// is not there, an API token asking to change a password) and after noting the audit entry's actor and target, so an
// invalid request is answered and audited as before. Keys are the SPA's field names (camelCase).

public sealed class SetupRequestValidator : AbstractValidator<SetupRequest>
{
    public SetupRequestValidator()
    {
        RuleFor(r => r.Username).ValidUsername();
        RuleFor(r => r.Password).StrongPassword((r, _) => Credentials.NormaliseUsername(r.Username)).OverridePropertyName("password");
    }
}

public sealed class SignInRequestValidator : AbstractValidator<SignInRequest>
{
    public SignInRequestValidator()
    {
        // Presence only: anything more would tell which passwords cannot be an account's.
        RuleFor(r => r.Username).Must(u => Credentials.NormaliseUsername(u).Length > 0).WithMessage("Enter your user name.").OverridePropertyName("username");
        RuleFor(r => r.Password).Must(p => !string.IsNullOrEmpty(p)).WithMessage("Enter your password.").OverridePropertyName("password");
    }
}

/// <summary>The new password of the signed-in user (<see cref="Credentials.PasswordOwner"/>: their name).</summary>
public sealed class ChangePasswordRequestValidator : AbstractValidator<ChangePasswordRequest>
{
    public ChangePasswordRequestValidator() =>
        RuleFor(r => r.NewPassword).StrongPassword((_, context) => Credentials.OwnerOf(context)).OverridePropertyName("newPassword");
}

public sealed class CreateUserRequestValidator : AbstractValidator<CreateUserRequest>
{
    public CreateUserRequestValidator()
    {
        RuleFor(r => r.Username).ValidUsername();
        RuleFor(r => r.Password).StrongPassword((r, _) => Credentials.NormaliseUsername(r.Username)).OverridePropertyName("password");
        RuleFor(r => r.Role).ValidRole();
    }
}

public sealed class UpdateUserRequestValidator : AbstractValidator<UpdateUserRequest>
{
    public UpdateUserRequestValidator() =>
        RuleFor(r => r.Role).ValidRole();
}

/// <summary>An admin's new password for a user (<see cref="Credentials.PasswordOwner"/>: that user's name).</summary>
public sealed class ResetPasswordRequestValidator : AbstractValidator<ResetPasswordRequest>
{
    public ResetPasswordRequestValidator() =>
        RuleFor(r => r.NewPassword).StrongPassword((_, context) => Credentials.OwnerOf(context)).OverridePropertyName("newPassword");
}

public sealed class CreateTokenRequestValidator : AbstractValidator<CreateTokenRequest>
{
    public CreateTokenRequestValidator(TimeProvider time)
    {
        RuleFor(r => r.Name).Must(n => (n ?? "").Trim().Length is >= 1 and <= 100)
            .WithMessage("Name the token (1–100 characters), e.g. after the integration that uses it.").OverridePropertyName("name");
        RuleFor(r => r.Role).ValidRole();
        RuleFor(r => r.ExpiresAt).Must(e => e is not { } expires || expires > time.GetUtcNow())
            .WithMessage("The expiry must be in the future.").OverridePropertyName("expiresAt");
    }
}
