using Ctrlable.Provisioner.Secrets;

namespace Ctrlable.Provisioner.Settings;

/// <summary>
/// <c>--set-proxmox-token-secret</c>: stores the Proxmox API token secret encrypted and exits (install.sh uses it, so
/// the secret never sits in a settings file). The secret comes from the first line of standard input, never from
/// the command line (it would show in the process list and the shell history).
/// </summary>
public static class SetTokenSecretCommand
{
    public const string Switch = "set-proxmox-token-secret";

    /// <summary><c>--has-proxmox-token-secret</c>: exit 0 when a secret is stored, 1 when not (install.sh's idempotency check).</summary>
    public const string CheckSwitch = "has-proxmox-token-secret";

    public static async Task<int> CheckAsync(IServiceProvider services, TextWriter output)
    {
        var stored = await services.GetRequiredService<SecretStore>().GetAsync(SecretKind.ProxmoxTokenSecret, "default") is not null;
        await output.WriteLineAsync($"{CheckSwitch}: {(stored ? "a Proxmox token secret is stored" : "no Proxmox token secret is stored")}.");
        return stored ? 0 : 1;
    }

    public static async Task<int> RunAsync(IServiceProvider services, TextReader input, TextWriter output, TextWriter error)
    {
        var secret = (await input.ReadLineAsync())?.Trim() ?? "";
        if (secret.Length == 0)
        {
            await error.WriteLineAsync($"{Switch}: no secret on standard input (pipe the token's secret in, one line).");
            return 1;
        }

        await services.GetRequiredService<SecretStore>().SetAsync(SecretKind.ProxmoxTokenSecret, "default", secret);
        await output.WriteLineAsync($"{Switch}: the Proxmox token secret is stored encrypted in the data directory.");
        return 0;
    }
}
