using System.Security.Cryptography;
using System.Text;
using Ctrlable.Provisioner.Config;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Auth;

/// <summary>
/// The one-time code that <c>POST /api/setup</c> asks for, so that whoever reaches the orchestrator first on the LAN
/// cannot make themselves its admin: only someone who can read <c>&lt;data&gt;/setup-code</c> (root or the service user
/// on the orchestrator's machine; install.sh prints it) can create the first admin. While no admin exists the file
/// holds one code (20 base32 characters = 100 random bits, shown as 4 groups of 5); it is created atomically with
/// mode 0600 and deleted once the first admin exists.
/// </summary>
public sealed class SetupCode(IOptions<StorageOptions> storage, ILogger<SetupCode> logger)
{
    public const string FileName = "setup-code";

    // RFC 4648 base32: no 0/1/8/9, so O/I/B are not mistaken for digits when typed.
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    private const int Groups = 4;
    private const int GroupLength = 5;

    public string FilePath => Path.Combine(Path.GetFullPath(storage.Value.DataDirectory), FileName);

    /// <summary>The code waiting in the file, creating the file first when there is none; <c>Created</c> says which.</summary>
    public (string Code, bool Created) Ensure()
    {
        if (Read() is { } existing)
        {
            return (existing, false);
        }

        var code = string.Join('-', Enumerable.Range(0, Groups).Select(_ => RandomNumberGenerator.GetString(Alphabet, GroupLength)));
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        // Written beside the file and linked into place without replacing: a reader never sees half a code, and the
        // service and the command line starting together agree on one code.
        var temp = $"{FilePath}.{Convert.ToHexString(RandomNumberGenerator.GetBytes(6))}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(Encoding.ASCII.GetBytes(code + "\n"));
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, FilePath, overwrite: false);
            return (code, true);
        }
        catch (IOException) when (Read() is { } other)
        {
            return (other, false);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// At the start of the service while no admin exists. The start that creates the code logs it once, as a warning
    /// naming the file: the one log line that carries a secret, on purpose (the operator of a fresh install needs it,
    /// and demo mode shows it on the console). Later starts only say where it waits.
    /// </summary>
    public void Announce()
    {
        var (code, created) = Ensure();
        if (created)
        {
            logger.LogWarning("No admin account exists yet. Set-up code: {SetupCode} (also in {SetupCodePath}); the set-up page asks for it", code, FilePath);
        }
        else
        {
            logger.LogWarning("No admin account exists yet: the set-up page asks for the set-up code waiting in {SetupCodePath}", FilePath);
        }
    }

    /// <summary>
    /// Whether <paramref name="entered"/> is the waiting code (case, spaces and dashes do not matter). Compared as
    /// SHA-256 digests in constant time, so neither the time nor a length check tells how much of it was right.
    /// </summary>
    public bool Matches(string? entered)
    {
        if (Read() is not { } code || string.IsNullOrWhiteSpace(entered) || entered.Length > 100)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Digest(Normalise(entered)), Digest(Normalise(code)));
    }

    /// <summary>Deletes the file: called once the first admin exists.</summary>
    public void Remove()
    {
        try
        {
            if (File.Exists(FilePath))
            {
                File.Delete(FilePath);
                logger.LogInformation("Set-up code {SetupCodePath} deleted: an admin account exists", FilePath);
            }
        }
        catch (IOException ex)
        {
            // The code no longer opens anything (setup answers 409 once an admin exists); say so and go on.
            logger.LogWarning("Could not delete {SetupCodePath}: {Reason}", FilePath, ex.Message);
        }
    }

    private string? Read()
    {
        try
        {
            var text = File.ReadAllText(FilePath).Trim();
            return text.Length == 0 ? null : text;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static string Normalise(string code) =>
        new([.. code.Where(c => c != '-' && !char.IsWhiteSpace(c)).Select(char.ToUpperInvariant)]);

    private static byte[] Digest(string code) => SHA256.HashData(Encoding.UTF8.GetBytes(code));
}

/// <summary>
/// <c>--setup-code</c>: prints the waiting set-up code (creating it when there is none yet) and exits; exit code 3 and
/// one line on standard error when an admin exists already. <c>ct-setup.sh setup-code</c> runs it as the service user,
/// so install.sh can print the code before the service has even started.
/// </summary>
public static class SetupCodeCommand
{
    public const string Switch = "setup-code";
    public const int AdminExists = 3;

    public static async Task<int> RunAsync(IServiceProvider services, TextWriter output, TextWriter error)
    {
        if (await services.GetRequiredService<SetupState>().IsDoneAsync())
        {
            await error.WriteLineAsync("setup-code: an admin account exists already, so no set-up code is needed: sign in (an admin adds further accounts under Users).");
            return AdminExists;
        }

        await output.WriteLineAsync(services.GetRequiredService<SetupCode>().Ensure().Code);
        return 0;
    }
}
