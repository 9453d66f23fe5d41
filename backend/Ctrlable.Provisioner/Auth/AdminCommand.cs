namespace Ctrlable.Provisioner.Auth;

/// <summary>
/// <c>--create-admin &lt;name&gt;</c>: creates the first admin on a headless install and exits without serving.
/// The password comes from <c>CTRLABLE_ADMIN_PASSWORD</c> or the first line of standard input, never from the
/// command line (it would show in the process list and the shell history).
/// </summary>
public static class AdminCommand
{
    public const string Switch = "create-admin";
    public const string PasswordVariable = "CTRLABLE_ADMIN_PASSWORD";

    public static async Task<int> RunAsync(IServiceProvider services, string username, string? password, TextReader input, TextWriter output, TextWriter error)
    {
        username = Credentials.NormaliseUsername(username);
        password ??= await input.ReadLineAsync() ?? "";
        // The same rules as an account created in the browser.
        var problems = new CreateUserRequestValidator().Validate(new CreateUserRequest(username, password, Role.Admin));
        if (!problems.IsValid)
        {
            foreach (var failure in problems.Errors)
            {
                await error.WriteLineAsync($"create-admin: {failure.PropertyName}: {failure.ErrorMessage}");
            }

            return 1;
        }

        if (await services.GetRequiredService<UserRepository>().AnyEnabledAdminAsync())
        {
            await error.WriteLineAsync("create-admin: an admin account exists already; sign in and add accounts under Users.");
            return 1;
        }

        if (await services.GetRequiredService<AccountService>().CreateAsync(username, password, Role.Admin, CancellationToken.None) is null)
        {
            await error.WriteLineAsync($"create-admin: the user name '{username}' is taken.");
            return 1;
        }

        await output.WriteLineAsync($"create-admin: admin account '{username}' created; sign in with it.");
        return 0;
    }
}
