using System.Globalization;
using Ctrlable.Provisioner.Config;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Backup;

/// <summary>
/// <c>--backup-to FILE</c> and <c>--restore-from FILE [--force]</c>: the orchestrator's own backup, made from and restored
/// into the data directory the service uses (the same settings), then exit without serving. The passphrase comes from
/// <c>CTRLABLE_BACKUP_PASSPHRASE</c> or the first line of standard input, never from the command line (it would show in
/// the process list and the shell history). Success is one line on standard output; failure one line on standard error.
/// </summary>
public static class BackupCommand
{
    public const string BackupSwitch = "backup-to";
    public const string RestoreSwitch = "restore-from";
    public const string ForceSwitch = "force";
    public const string PassphraseVariable = "CTRLABLE_BACKUP_PASSPHRASE";

    /// <summary>What was asked: a backup to, or a restore from, <see cref="File"/> (null when the switch has no value).</summary>
    public sealed record Request(bool Restore, string? File, bool Force);

    /// <summary>The command in <paramref name="args"/>, or null when neither switch is there.</summary>
    public static Request? Parse(string[] args)
    {
        var backup = Array.IndexOf(args, $"--{BackupSwitch}");
        var restore = Array.IndexOf(args, $"--{RestoreSwitch}");
        if (backup < 0 && restore < 0)
        {
            return null;
        }

        var at = restore >= 0 ? restore : backup;
        var file = at + 1 < args.Length && !args[at + 1].StartsWith("--", StringComparison.Ordinal) ? args[at + 1] : null;
        return new Request(restore >= 0, backup >= 0 && restore >= 0 ? null : file, args.Contains($"--{ForceSwitch}"));
    }

    public static async Task<int> RunAsync(IServiceProvider services, Request request, string? passphrase, TextReader input, TextWriter output, TextWriter error)
    {
        var name = request.Restore ? "restore" : "backup";
        if (request.File is null)
        {
            await error.WriteLineAsync($"{name}: usage: --{BackupSwitch} FILE | --{RestoreSwitch} FILE [--{ForceSwitch}] (the passphrase from {PassphraseVariable} or standard input)");
            return 2;
        }

        try
        {
            var dataDirectory = Path.GetFullPath(services.GetRequiredService<IOptions<StorageOptions>>().Value.DataDirectory);
            var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
            passphrase ??= await input.ReadLineAsync() ?? "";
            if (request.Restore)
            {
                if (passphrase.Length == 0)
                {
                    throw new BackupException("no passphrase given");
                }

                var restored = await BackupRestore.RunAsync(Path.GetFullPath(request.File), dataDirectory, passphrase, request.Force, now, CancellationToken.None);
                var manifest = restored.Manifest;
                var made = manifest.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
                var setAside = restored.SetAside is null ? "" : $"; the {restored.Replaced} files it replaced are in {restored.SetAside}";
                await output.WriteLineAsync(
                    $"restore: restored the backup of {manifest.Site} made {made} UTC by version {manifest.ProductVersion} into {dataDirectory} ({manifest.Files.Count} files{setAside}; "
                    + $"the settings it was made with, not applied, are in {Path.Combine(dataDirectory, BackupContents.RestoredSettingsFolder)}); start the orchestrator.");
                return 0;
            }

            if (BackupCipher.PassphraseProblem(passphrase) is { } problem)
            {
                throw new BackupException(problem);
            }

            var file = Path.GetFullPath(request.File);
            var written = await BackupFiles.WriteAsync(file, dataDirectory, services.GetRequiredService<IOptions<TlsOptions>>().Value, passphrase, now, CancellationToken.None);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"backup: wrote {file} ({written.Files.Count} files, {new FileInfo(file).Length / 1048576.0:0.##} MiB) from {dataDirectory}; keep the passphrase apart from it: without it the backup cannot be restored."));
            return 0;
        }
        catch (BackupException ex)
        {
            await error.WriteLineAsync($"{name}: {ex.Message}.");
        }
        catch (OptionsValidationException ex)
        {
            await error.WriteLineAsync($"{name}: configuration error: {string.Join("; ", ex.Failures)}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"{name}: {ex.Message}");
        }

        return 1;
    }
}

/// <summary>Backup files on disk: written beside their final name, owner-only, and never over an existing file.</summary>
public static class BackupFiles
{
    public static async Task<BackupManifest> WriteAsync(string file, string dataDirectory, TlsOptions tls, string passphrase, DateTimeOffset now, CancellationToken ct)
    {
        if (File.Exists(file) || Directory.Exists(file))
        {
            throw new BackupException($"{file} exists: choose another file name (a backup never overwrites a file)");
        }

        var partial = file + ".partial";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        // CreateNew: a .partial of someone else's is not ours to write or remove.
        var stream = new FileStream(partial, options);
        var done = false;
        try
        {
            BackupManifest manifest;
            await using (stream)
            {
                manifest = await BackupContents.WriteAsync(dataDirectory, tls, passphrase, SiteName(), now, stream, ct);
            }

            File.Move(partial, file);
            done = true;
            return manifest;
        }
        finally
        {
            if (!done)
            {
                File.Delete(partial);
            }
        }
    }

    /// <summary>The site a backup is of, as the manifest and the download's file name say: this orchestrator's host name.</summary>
    public static string SiteName()
    {
        var name = new string([.. System.Net.Dns.GetHostName().ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '-')]).Trim('-', '.');
        return name.Length > 0 ? name : "orchestrator";
    }
}
