using System.Collections;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.State;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Backup;

/// <summary>One file in a backup: its path in the archive, size and SHA-256 (lower-case hex).</summary>
public sealed record BackupFile(string Path, long Size, string Sha256);

/// <summary><c>manifest.json</c>, the archive's first entry.</summary>
public sealed record BackupManifest(int Format, string Product, string ProductVersion, DateTimeOffset CreatedAt, string Site, IReadOnlyList<BackupFile> Files)
{
    public const int CurrentFormat = 1;
    public const string ProductName = "Ctrlable Provisioner";
    public const string FileName = "manifest.json";
}

/// <summary>What a backup holds and where each part comes from and goes back to (SPEC §"Orchestrator self-backup").</summary>
public static class BackupContents
{

    /// <summary>Archive folder of the data directory's files; they are restored to the same place in the target.</summary>
    public const string DataPrefix = "data/";

    /// <summary>Archive folder of the settings; restored, not applied, into <c>&lt;data&gt;/restored-settings/</c>.</summary>
    public const string SettingsPrefix = "settings/";

    public const string RestoredSettingsFolder = "restored-settings";
    public const string SettingsFile = "provisioner.env";

    /// <summary>The data directory's private folders a backup carries: the key ring, a generated TLS certificate, the build key.</summary>
    public static readonly string[] DataFolders = ["keys", "tls", "ssh"];

    /// <summary>
    /// Configuration variables a backup leaves out: the one-shot inputs of commands (passwords, this passphrase) and the
    /// Proxmox token secret (moved into the encrypted secret store at start; it is in the database).
    /// </summary>
    private static readonly HashSet<string> LeftOutVariables = new(StringComparer.OrdinalIgnoreCase)
    {
        "CTRLABLE_PROXMOX__TOKENSECRET",
    };

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>
    /// Writes the encrypted backup of <paramref name="dataDirectory"/> to <paramref name="output"/>: a consistent copy of
    /// the database (SQLite online backup: safe while the orchestrator runs), the key ring, the generated TLS
    /// certificate, the build key, the <c>CTRLABLE_*</c> settings in effect and a configured certificate.
    /// </summary>
    public static async Task<BackupManifest> WriteAsync(string dataDirectory, TlsOptions tls, string passphrase, string site, DateTimeOffset now, Stream output, CancellationToken ct)
    {
        var database = Path.Combine(dataDirectory, Database.FileName);
        if (!File.Exists(database))
        {
            throw new BackupException($"no database at {database}: is the data directory (Storage:DataDirectory) right?");
        }

        // Private: the database copy holds password hashes and the encrypted secrets.
        var staging = Directory.CreateTempSubdirectory("ctrlable-backup-");
        try
        {
            var entries = new List<(string ArchivePath, string File)>();
            var copy = Path.Combine(staging.FullName, Database.FileName);
            CopyDatabase(database, copy);
            entries.Add((DataPrefix + Database.FileName, copy));
            foreach (var folder in DataFolders)
            {
                var directory = Path.Combine(dataDirectory, folder);
                if (!Directory.Exists(directory))
                {
                    continue;
                }

                foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
                {
                    if (!new FileInfo(file).Attributes.HasFlag(FileAttributes.ReparsePoint))
                    {
                        entries.Add(($"{DataPrefix}{folder}/{Path.GetFileName(file)}", file));
                    }
                }
            }

            var settings = Path.Combine(staging.FullName, SettingsFile);
            await File.WriteAllTextAsync(settings, SettingsText(), ct);
            entries.Add((SettingsPrefix + SettingsFile, settings));
            foreach (var configured in new[] { tls.CertificatePath, tls.CertificateKeyPath }.Where(p => p.Length > 0 && File.Exists(p)).Distinct())
            {
                entries.Add(($"{SettingsPrefix}tls/{Path.GetFileName(configured)}", configured));
            }

            var files = new List<BackupFile>();
            foreach (var (archivePath, file) in entries)
            {
                files.Add(new BackupFile(archivePath, new FileInfo(file).Length, await HashAsync(file, ct)));
            }

            var manifest = new BackupManifest(BackupManifest.CurrentFormat, BackupManifest.ProductName, PlatformJson.OrchestratorVersion, now, site, files);
            await using (var encrypted = BackupCipher.Encrypt(output, passphrase))
            await using (var tar = new TarWriter(encrypted, TarEntryFormat.Pax, leaveOpen: true))
            {
                var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, Json);
                var manifestEntry = new PaxTarEntry(TarEntryType.RegularFile, BackupManifest.FileName) { DataStream = new MemoryStream(manifestBytes) };
                await tar.WriteEntryAsync(manifestEntry, ct);
                foreach (var (archivePath, file) in entries)
                {
                    await using var content = File.OpenRead(file);
                    await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, archivePath) { DataStream = content, Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite }, ct);
                }
            }

            return manifest;
        }
        finally
        {
            staging.Delete(recursive: true);
        }
    }

    public static async Task<string> HashAsync(string file, CancellationToken ct)
    {
        await using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }

    /// <summary>The settings in effect as <c>KEY=value</c> lines (an env file like install.sh's provisioner.env).</summary>
    public static string SettingsText()
    {
        var lines = new List<string>();
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            var name = (string)variable.Key;
            var value = variable.Value as string ?? "";
            // Configuration keys only (CTRLABLE_SECTION__KEY, CTRLABLE_URLS), never a command's input (CTRLABLE_ADMIN_PASSWORD, ...).
            var isSetting = name.StartsWith("CTRLABLE_", StringComparison.OrdinalIgnoreCase)
                && (name.Contains("__", StringComparison.Ordinal) || name.Equals("CTRLABLE_URLS", StringComparison.OrdinalIgnoreCase));
            if (isSetting && !LeftOutVariables.Contains(name) && !value.Contains('\n', StringComparison.Ordinal))
            {
                lines.Add($"{name}={value}");
            }
        }

        lines.Sort(StringComparer.Ordinal);
        var text = new StringBuilder("# The CTRLABLE_* settings the orchestrator ran with when this backup was made (restored for reference, not applied).\n");
        foreach (var line in lines)
        {
            text.Append(line).Append('\n');
        }

        return text.ToString();
    }

    private static void CopyDatabase(string database, string copy)
    {
        var source = new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 30 }.ToString();
        var target = new SqliteConnectionStringBuilder { DataSource = copy, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString();
        using var from = new SqliteConnection(source);
        using var to = new SqliteConnection(target);
        from.Open();
        to.Open();
        from.BackupDatabase(to);
        // One self-contained file: no -wal beside it in the archive.
        using var command = to.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = DELETE;";
        command.ExecuteNonQuery();
    }
}
