using System.Globalization;
using Ctrlable.Provisioner.HomeAssistant;

namespace Ctrlable.Provisioner.Releases;

/// <summary>
/// <c>--import-base-backup &lt;release&gt; &lt;file&gt;</c>: stores a release's Home Assistant base backup on a headless
/// install, with the same checks as the Releases page (SHA-256 against the manifest, the archive opened and every missing
/// piece listed), and exits without serving. The owner's password comes from <c>CTRLABLE_BASE_ADMIN_PASSWORD</c>, an
/// encrypted backup's key from <c>CTRLABLE_BASE_BACKUP_PASSWORD</c>; what the environment does not give is read, in that
/// order, from the lines of standard input (the key only for an encrypted backup) — never from the command line.
/// </summary>
public static class ImportBaseBackupCommand
{
    public const string Switch = "import-base-backup";
    public const string PasswordVariable = "CTRLABLE_BASE_ADMIN_PASSWORD";
    public const string BackupPasswordVariable = "CTRLABLE_BASE_BACKUP_PASSWORD";

    private const string Usage = "usage: --import-base-backup <release> <file> (the owner's password from CTRLABLE_BASE_ADMIN_PASSWORD or standard input)";

    /// <summary>The two values after the switch, or null when the switch is absent.</summary>
    public static string[]? Arguments(string[] args)
    {
        var at = Array.IndexOf(args, $"--{Switch}");
        return at < 0 ? null : [.. args.Skip(at + 1).Take(2)];
    }

    public static async Task<int> RunAsync(IServiceProvider services, IReadOnlyList<string> arguments, string? password, string? backupPassword,
        TextReader input, TextWriter output, TextWriter error)
    {
        if (arguments.Count < 2 || arguments.Any(a => a.StartsWith("--", StringComparison.Ordinal)))
        {
            await error.WriteLineAsync($"{Switch}: {Usage}");
            return 2;
        }

        var (release, path) = (arguments[0], arguments[1]);
        if (!File.Exists(path))
        {
            await error.WriteLineAsync($"{Switch}: {path}: no such file");
            return 1;
        }

        var store = services.GetRequiredService<BaseBackupStore>();
        try
        {
            var target = store.Target(release);
            password ??= await input.ReadLineAsync() ?? "";
            if (backupPassword is null && await IsEncryptedAsync(path))
            {
                backupPassword = await input.ReadLineAsync();
            }

            await using var staged = await StageAsync(store, target, path);
            var row = await store.ImportAsync(target, staged, password, string.IsNullOrEmpty(backupPassword) ? null : backupPassword, BaseBackupStore.CommandLine, CancellationToken.None);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{Switch}: stored {row.FileName} as the base backup of release {row.Release} (SHA-256 {row.Sha256}, {row.SizeBytes / 1048576.0:0.#} MiB, owner '{row.AdminUsername}'{(row.Encrypted ? ", encrypted" : "")})."));
            if (target.ExpectedSha256 is null)
            {
                await output.WriteLineAsync($"{Switch}: the manifest pins no SHA-256: add base_backup_sha256: \"{row.Sha256}\" to releases/{row.Release}.yaml to pin this file.");
            }

            return 0;
        }
        catch (BaseBackupRejectedException rejected)
        {
            await error.WriteLineAsync($"{Switch}: {rejected.Message}:");
            foreach (var line in rejected.Errors)
            {
                await error.WriteLineAsync($"{Switch}: - {line}");
            }

            return 1;
        }
        catch (IOException ex)
        {
            await error.WriteLineAsync($"{Switch}: {path}: {ex.Message}");
            return 1;
        }
    }

    private static async Task<StagedBaseBackup> StageAsync(BaseBackupStore store, BaseBackupTarget target, string path)
    {
        if (new FileInfo(path).Length > store.MaxBytes)
        {
            throw store.TooLarge();
        }

        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        return await store.StageAsync(target.Release, file, CancellationToken.None);
    }

    /// <summary>backup.json's <c>protected</c>; false when the file cannot be read as a backup (the import then says why).</summary>
    private static async Task<bool> IsEncryptedAsync(string path)
    {
        try
        {
            await using var file = File.OpenRead(path);
            return (await BackupArchive.ReadBackupJsonAsync(file, CancellationToken.None))["protected"]?.GetValue<bool>() == true;
        }
        catch (Exception ex) when (ex is BackupArchiveException or InvalidDataException or FormatException or EndOfStreamException or InvalidOperationException)
        {
            return false;
        }
    }
}
