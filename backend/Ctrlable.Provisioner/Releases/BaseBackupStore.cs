using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Releases;

/// <summary>
/// The base backup's admin account (<see cref="Username"/>/<see cref="Password"/>: the owner the restore brings back)
/// and, for a protected backup, its encryption password. Per-release secrets; never logged.
/// </summary>
public sealed record HaBaseCredentials(string Username, string Password, string? BackupPassword = null)
{
    /// <summary>Keeps the values out of logs and exception messages that print the record.</summary>
    public override string ToString() => $"HaBaseCredentials {{ Username = {Username}, Password = ***, BackupPassword = {(BackupPassword is null ? "none" : "***")} }}";
}

/// <summary>A release's stored base backup: the file (verified against the recorded SHA-256 when handed out) and its credentials.</summary>
public sealed record BaseBackup(string Release, string FileName, string Path, string Sha256, long SizeBytes, DateTimeOffset StoredAt, HaBaseCredentials Credentials);

/// <summary>The stored base backup is missing, altered, or does not match the manifest.</summary>
public sealed class BaseBackupException(string message) : Exception(message);

/// <summary>
/// Keeps each release's Home Assistant base backup with the release on the orchestrator: the file under
/// <c>&lt;data&gt;/base-backups/&lt;release&gt;/</c> (0700), its SHA-256 recorded in <c>base_backups</c>, its admin credentials
/// encrypted in the secret store (<see cref="SecretKind.HaBaseCredentials"/>). The deploy flow reads it with
/// <see cref="GetAsync"/>; the file is checked against the recorded checksum on every read.
/// </summary>
public sealed partial class BaseBackupStore(
    BaseBackupRepository repository,
    SecretStore secrets,
    IOptions<StorageOptions> storage,
    TimeProvider time)
{
    /// <summary>
    /// Stores (or replaces) the release's base backup. <paramref name="expectedSha256"/> (the manifest's
    /// <c>base_backup_sha256</c>) must match when given; nothing is kept otherwise.
    /// </summary>
    public async Task<BaseBackup> StoreAsync(string release, string fileName, Stream content, HaBaseCredentials credentials, string? expectedSha256, CancellationToken ct)
    {
        if (!SafeName().IsMatch(release) || !SafeName().IsMatch(fileName))
        {
            throw new BaseBackupException($"'{release}/{fileName}' is not a valid release and file name");
        }

        if (string.IsNullOrWhiteSpace(credentials.Username) || string.IsNullOrEmpty(credentials.Password))
        {
            throw new BaseBackupException("the base backup's admin username and password are required");
        }

        var directory = Directory.CreateDirectory(System.IO.Path.Combine(DataDirectories.Create(storage.Value, "base-backups"), release));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var path = System.IO.Path.Combine(directory.FullName, fileName);
        var partial = path + ".part";
        string sha256;
        long size;
        await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[81920];
            int read;
            while ((read = await content.ReadAsync(buffer, ct)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), ct);
            }

            sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
            size = file.Length;
        }

        if (expectedSha256 is not null && !string.Equals(expectedSha256, sha256, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(partial);
            throw new BaseBackupException($"{fileName} has SHA-256 {sha256}, the manifest expects {expectedSha256}");
        }

        File.Move(partial, path, overwrite: true);
        var row = new BaseBackupRow(release, fileName, sha256, size, time.GetUtcNow());
        await secrets.SetAsync(SecretKind.HaBaseCredentials, Name(release), JsonSerializer.Serialize(credentials), ct);
        await repository.UpsertAsync(row, ct);
        return new BaseBackup(release, fileName, path, sha256, size, row.StoredAt, credentials);
    }

    /// <summary>
    /// The release's base backup, or null when none is stored. Throws <see cref="BaseBackupException"/> when the file
    /// is gone or no longer matches the recorded SHA-256, or the credentials are missing.
    /// </summary>
    public async Task<BaseBackup?> GetAsync(string release, CancellationToken ct)
    {
        var row = await repository.GetAsync(release, ct);
        if (row is null)
        {
            return null;
        }

        var path = System.IO.Path.Combine(Path.GetFullPath(storage.Value.DataDirectory), "base-backups", release, row.FileName);
        if (!File.Exists(path))
        {
            throw new BaseBackupException($"the base backup {row.FileName} of release {release} is missing from the data directory");
        }

        string actual;
        await using (var file = File.OpenRead(path))
        {
            actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
        }

        if (actual != row.Sha256)
        {
            throw new BaseBackupException($"the base backup {row.FileName} of release {release} has SHA-256 {actual}, recorded {row.Sha256}");
        }

        var json = await secrets.GetAsync(SecretKind.HaBaseCredentials, Name(release), ct)
            ?? throw new BaseBackupException($"release {release} has no base backup credentials");
        var credentials = JsonSerializer.Deserialize<HaBaseCredentials>(json) ?? throw new BaseBackupException($"release {release} has unreadable base backup credentials");
        return new BaseBackup(release, row.FileName, path, row.Sha256, row.SizeBytes, row.StoredAt, credentials);
    }

    private static string Name(string release) => $"release/{release}";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex SafeName();
}
