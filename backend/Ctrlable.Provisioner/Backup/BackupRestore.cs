using System.Formats.Tar;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Backup;

/// <summary>What a restore did, for its one line.</summary>
public sealed record RestoreResult(BackupManifest Manifest, int Replaced, string? SetAside);

/// <summary>
/// Restores a backup into a data directory: only into an empty (or absent) one unless forced; decrypted and verified
/// completely (every tag, the manifest's list and hashes, the database's integrity and schema version) in a private
/// folder inside the target before anything in it changes; never under a running orchestrator (its lock); never deleting:
/// with force, each file the backup replaces is first moved to <c>before-restore-&lt;time&gt;/</c>, the rest is left.
/// </summary>
public static partial class BackupRestore
{
    private const string StagingPrefix = ".restore-";
    private const string SetAsidePrefix = "before-restore-";

    public static async Task<RestoreResult> RunAsync(string file, string dataDirectory, string passphrase, bool force, DateTimeOffset now, CancellationToken ct)
    {
        if (!File.Exists(file))
        {
            throw new BackupException($"{file}: no such file");
        }

        var target = Path.GetFullPath(dataDirectory);
        var createdTarget = !Directory.Exists(target);
        if (createdTarget)
        {
            CreatePrivateDirectory(target);
        }

        var held = DataDirectoryLock.TryAcquire(target);
        if (held is null)
        {
            throw new BackupException(DataDirectoryLock.Held(target));
        }

        var succeeded = false;
        string? staging = null;
        try
        {
            var present = Directory.EnumerateFileSystemEntries(target).Select(Path.GetFileName).Where(n => n != DataDirectoryLock.FileName).Order(StringComparer.Ordinal).ToList();
            if (present.Count > 0 && !force)
            {
                throw new BackupException(
                    $"{target} is not empty ({string.Join(", ", present.Take(5))}{(present.Count > 5 ? ", …" : "")}): restore into an empty data directory, or add --force to replace what the backup holds (the replaced files are kept in {SetAsidePrefix}<time>/)");
            }

            staging = Path.Combine(target, StagingPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
            CreatePrivateDirectory(staging);
            var manifest = await UnpackAsync(file, passphrase, staging, ct);
            var (replaced, setAside) = MoveIntoPlace(Path.Combine(staging, "content"), manifest, target, now);
            succeeded = true;
            return new RestoreResult(manifest, replaced, setAside);
        }
        finally
        {
            if (staging is not null && Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }

            // A refused restore leaves the target as it was: what this run made (the lock file, an absent target) goes again.
            if (!succeeded && held.Created)
            {
                held.ReleaseAndRemove();
            }
            else
            {
                held.Dispose();
            }

            if (!succeeded && createdTarget && !Directory.EnumerateFileSystemEntries(target).Any())
            {
                Directory.Delete(target);
            }
        }
    }

    /// <summary>Decrypts and unpacks the archive into <c>staging/content</c>, checking it against its manifest; the manifest.</summary>
    private static async Task<BackupManifest> UnpackAsync(string file, string passphrase, string staging, CancellationToken ct)
    {
        var archive = Path.Combine(staging, "archive.tar");
        await using (var input = File.OpenRead(file))
        await using (var output = File.Create(archive))
        {
            await BackupCipher.DecryptAsync(input, output, passphrase, ct);
        }

        var content = Path.Combine(staging, "content");
        BackupManifest? manifest = null;
        var expected = new Dictionary<string, BackupFile>(StringComparer.Ordinal);
        try
        {
            await using var stream = File.OpenRead(archive);
            await using var tar = new TarReader(stream);
            while (await tar.GetNextEntryAsync(copyData: false, ct) is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                {
                    throw new BackupException($"the backup holds something other than a file ({entry.Name})");
                }

                if (manifest is null)
                {
                    manifest = entry.Name == BackupManifest.FileName ? await ReadManifestAsync(entry.DataStream, ct) : throw new BackupException("the backup has no manifest");
                    foreach (var listed in manifest.Files)
                    {
                        if (!IsKnownPath(listed.Path) || !expected.TryAdd(listed.Path, listed))
                        {
                            throw new BackupException($"the backup's manifest lists an unexpected file ({listed.Path})");
                        }
                    }

                    continue;
                }

                if (!expected.Remove(entry.Name, out var want))
                {
                    throw new BackupException($"the backup holds a file its manifest does not list ({entry.Name})");
                }

                var path = Path.Combine(content, entry.Name);
                CreatePrivateDirectory(Path.GetDirectoryName(path)!);
                await using (var written = File.Create(path))
                {
                    await entry.DataStream.CopyToAsync(written, ct);
                }

                if (new FileInfo(path).Length != want.Size || await BackupContents.HashAsync(path, ct) != want.Sha256)
                {
                    throw new BackupException($"{want.Path} does not match the backup's manifest (size or SHA-256)");
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new BackupException("the backup's archive is unreadable");
        }
        finally
        {
            File.Delete(archive);
        }

        if (manifest is null)
        {
            throw new BackupException("the backup has no manifest");
        }

        if (expected.Count > 0)
        {
            throw new BackupException($"the backup lacks files its manifest lists ({string.Join(", ", expected.Keys)})");
        }

        var database = BackupContents.DataPrefix + Database.FileName;
        if (!manifest.Files.Any(f => f.Path == database))
        {
            throw new BackupException("the backup holds no database");
        }

        CheckDatabase(Path.Combine(content, database), manifest.ProductVersion);
        return manifest;
    }

    private static async Task<BackupManifest> ReadManifestAsync(Stream stream, CancellationToken ct)
    {
        BackupManifest? manifest;
        try
        {
            manifest = await JsonSerializer.DeserializeAsync<BackupManifest>(stream, BackupContents.Json, ct);
        }
        catch (JsonException)
        {
            throw new BackupException("the backup's manifest is unreadable");
        }

        if (manifest is null || manifest.Files is null || manifest.Product != BackupManifest.ProductName)
        {
            throw new BackupException("the backup's manifest is unreadable");
        }

        return manifest.Format == BackupManifest.CurrentFormat
            ? manifest
            : throw new BackupException($"the backup's manifest format {manifest.Format} is not one this orchestrator reads; use a newer orchestrator");
    }

    /// <summary>The database opens, passes SQLite's integrity check and has a schema this orchestrator knows.</summary>
    private static void CheckDatabase(string path, string madeBy)
    {
        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            connection.Open();
            using var check = connection.CreateCommand();
            check.CommandText = "PRAGMA integrity_check;";
            if (check.ExecuteScalar() as string != "ok")
            {
                throw new BackupException("the backup's database fails SQLite's integrity check");
            }

            check.CommandText = "PRAGMA user_version;";
            var version = Convert.ToInt32(check.ExecuteScalar(), CultureInfo.InvariantCulture);
            if (version > Migrator.LatestVersion)
            {
                throw new BackupException($"the backup's database has schema version {version}, this orchestrator knows only up to {Migrator.LatestVersion}: restore it with an orchestrator of version {madeBy} or later");
            }
        }
        catch (SqliteException ex)
        {
            throw new BackupException($"the backup's database does not open ({ex.SqliteErrorCode})");
        }
    }

    /// <summary>Moves the verified files to their places; each file already there is first moved aside. Returns how many were replaced and where.</summary>
    private static (int Replaced, string? SetAside) MoveIntoPlace(string content, BackupManifest manifest, string target, DateTimeOffset now)
    {
        var aside = Path.Combine(target, SetAsidePrefix + now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture));
        var replaced = 0;
        foreach (var file in manifest.Files)
        {
            var relative = Destination(file.Path);
            var destination = Path.Combine(target, relative);
            // The database's journal files belong to the database they sit beside: they go with it.
            var displaced = file.Path == BackupContents.DataPrefix + Database.FileName
                ? new[] { "", "-wal", "-shm", "-journal" }.Select(suffix => relative + suffix)
                : [relative];
            foreach (var old in displaced.Where(r => File.Exists(Path.Combine(target, r))))
            {
                var kept = Path.Combine(aside, old);
                CreatePrivateDirectory(Path.GetDirectoryName(kept)!);
                File.Move(Path.Combine(target, old), kept);
                replaced++;
            }

            CreatePrivateDirectory(Path.GetDirectoryName(destination)!);
            File.Move(Path.Combine(content, file.Path), destination);
            DataDirectories.RestrictFile(destination);
        }

        return (replaced, Directory.Exists(aside) ? aside : null);
    }

    /// <summary>Where an archive path goes in the data directory: data/X to X, settings/X to restored-settings/X.</summary>
    private static string Destination(string archivePath) =>
        archivePath.StartsWith(BackupContents.DataPrefix, StringComparison.Ordinal)
            ? archivePath[BackupContents.DataPrefix.Length..]
            : Path.Combine(BackupContents.RestoredSettingsFolder, archivePath[BackupContents.SettingsPrefix.Length..]);

    private static bool IsKnownPath(string path) => KnownPath().IsMatch(path);

    // Only the places a backup writes: no absolute path, no "..", no hidden name.
    [GeneratedRegex(@"^(data/provisioner\.db|data/(keys|tls|ssh)/[A-Za-z0-9_-][A-Za-z0-9._-]*|settings/provisioner\.env|settings/tls/[A-Za-z0-9_-][A-Za-z0-9._-]*)$")]
    private static partial Regex KnownPath();

    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
