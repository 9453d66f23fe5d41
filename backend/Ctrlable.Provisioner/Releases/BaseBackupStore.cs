using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.Manifest;
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

/// <summary>Why an offered base backup was not stored (the API's status code follows from it).</summary>
public enum BaseBackupRejection
{
    /// <summary>No release manifest of that name.</summary>
    ReleaseNotFound,

    /// <summary>The manifest is invalid, or none of its templates names a <c>base_backup</c>.</summary>
    NoBaseBackup,

    /// <summary>Larger than <see cref="HomeAssistantOptions.BaseBackupMaxMegabytes"/>.</summary>
    TooLarge,

    /// <summary>Another SHA-256 than the manifest's <c>base_backup_sha256</c>.</summary>
    Sha256Mismatch,

    /// <summary>The archive lacks what the deploy flow needs; <see cref="BaseBackupRejectedException.Errors"/> lists every piece.</summary>
    Incomplete,
}

/// <summary>An offered base backup was refused; nothing of it was kept and the stored one (if any) is unchanged.</summary>
public sealed class BaseBackupRejectedException(BaseBackupRejection reason, string title, IReadOnlyList<string> errors) : Exception(title)
{
    public BaseBackupRejection Reason { get; } = reason;

    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>Where a release's base backup goes and what it must hold, from its manifest.</summary>
/// <param name="Release">The release (its manifest's name).</param>
/// <param name="FileName">The manifest's <c>base_backup</c>.</param>
/// <param name="ExpectedSha256">The manifest's <c>base_backup_sha256</c>, or null when it pins none.</param>
/// <param name="Needs">What the release's wiring needs in the backup beyond the common pieces.</param>
public sealed record BaseBackupTarget(string Release, string FileName, string? ExpectedSha256, BaseBackupNeeds Needs);

/// <summary>
/// An upload written to a temporary file beside the stored backup (same file system, so putting it in place is one
/// rename). Disposing it deletes the file unless it was stored.
/// </summary>
public sealed class StagedBaseBackup(string path, string sha256, long sizeBytes) : IAsyncDisposable
{
    public string Path { get; } = path;

    public string Sha256 { get; } = sha256;

    public long SizeBytes { get; } = sizeBytes;

    public ValueTask DisposeAsync()
    {
        File.Delete(Path);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Keeps each release's Home Assistant base backup with the release on the orchestrator: the file under
/// <c>&lt;data&gt;/base-backups/&lt;release&gt;/</c> (0700), its SHA-256 and what its check found recorded in
/// <c>base_backups</c>, its admin credentials encrypted in the secret store (<see cref="SecretKind.HaBaseCredentials"/>).
/// An upload (<see cref="StageAsync"/> then <see cref="ImportAsync"/>) is written to a temporary file, checked against the
/// manifest's SHA-256 and opened (<see cref="BaseBackupInspector"/>) before it replaces the stored one in one step; until
/// then the stored backup stays as it was. The deploy flow reads it with <see cref="GetAsync"/>; the file is checked
/// against the recorded checksum on every read.
/// </summary>
public sealed partial class BaseBackupStore(
    BaseBackupRepository repository,
    SecretStore secrets,
    SecretProtector protector,
    ReleaseCatalog catalog,
    IOptions<StorageOptions> storage,
    IOptions<HomeAssistantOptions> options,
    TimeProvider time)
{
    /// <summary>Who stored a backup from the command line (<see cref="ImportBaseBackupCommand"/>).</summary>
    public const string CommandLine = "command line";

    private const string StagingPrefix = ".upload-";

    // One replacement or verified read at a time in this process: a reader never sees a new file with the old record.
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The largest base backup accepted (bytes).</summary>
    public long MaxBytes => options.Value.BaseBackupMaxBytes;

    /// <summary>The release's base backup file name, pinned checksum and needs; throws <see cref="BaseBackupRejectedException"/> when it takes none.</summary>
    public BaseBackupTarget Target(string release)
    {
        var file = catalog.Find(release)
            ?? throw new BaseBackupRejectedException(BaseBackupRejection.ReleaseNotFound, "Release not found", [$"There is no release '{release}' in the releases directory."]);
        if (file.Manifest is not { } manifest)
        {
            throw new BaseBackupRejectedException(BaseBackupRejection.NoBaseBackup, "Release manifest is invalid",
                [$"The manifest of release {release} is invalid; fix it before storing its base backup."]);
        }

        var template = manifest.Templates.FirstOrDefault(t => t.BaseBackup is not null)
            ?? throw new BaseBackupRejectedException(BaseBackupRejection.NoBaseBackup, "The release takes no base backup",
                [$"No template of release {release} names a base_backup (the Home Assistant VM's base_backup in releases/{release}.yaml)."]);
        return new BaseBackupTarget(manifest.Release, template.BaseBackup!, template.BaseBackupSha256,
            new BaseBackupNeeds(Frigate: manifest.Templates.Any(t => t.Name == Provision.TemplateTypes.Frigate)));
    }

    /// <summary>
    /// Writes <paramref name="content"/> to a temporary file in the release's folder, hashing it on the way; more than
    /// <see cref="MaxBytes"/> stops it (<see cref="BaseBackupRejection.TooLarge"/>) and removes what was written.
    /// </summary>
    public async Task<StagedBaseBackup> StageAsync(string release, Stream content, CancellationToken ct)
    {
        var directory = ReleaseDirectory(release);
        var partial = System.IO.Path.Combine(directory, $"{StagingPrefix}{Guid.NewGuid():N}.part");
        try
        {
            long size = 0;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, ct)) > 0)
                {
                    size += read;
                    if (size > MaxBytes)
                    {
                        throw TooLarge();
                    }

                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                }
            }

            return new StagedBaseBackup(partial, Convert.ToHexStringLower(hash.GetHashAndReset()), size);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }

    internal BaseBackupRejectedException TooLarge() => new(BaseBackupRejection.TooLarge, "Base backup too large",
        [$"The base backup is larger than {options.Value.BaseBackupMaxMegabytes} MiB (HomeAssistant:BaseBackupMaxMegabytes). Keep the base small (no database or media in it), or raise the limit."]);

    /// <summary>
    /// Checks a staged upload against the manifest's SHA-256 and opens it (<see cref="BaseBackupInspector"/>); when both pass
    /// it replaces the release's stored backup and credentials in one step. Throws <see cref="BaseBackupRejectedException"/>
    /// otherwise, keeping nothing of it.
    /// </summary>
    public async Task<BaseBackupRow> ImportAsync(BaseBackupTarget target, StagedBaseBackup staged, string adminPassword, string? backupPassword, string storedBy, CancellationToken ct)
    {
        if (target.ExpectedSha256 is { } expected && !string.Equals(expected, staged.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new BaseBackupRejectedException(BaseBackupRejection.Sha256Mismatch, "Not the release's base backup",
                [$"The file has SHA-256 {staged.Sha256}; the manifest of release {target.Release} expects {expected} (base_backup_sha256)."]);
        }

        var inspection = await BaseBackupInspector.InspectAsync(staged.Path, target.Needs, adminPassword, backupPassword, ct);
        if (inspection.Errors.Count > 0 || inspection.AdminUsername is null)
        {
            throw new BaseBackupRejectedException(BaseBackupRejection.Incomplete, "The base backup lacks what the deploy needs",
                inspection.Errors.Count > 0 ? inspection.Errors : ["The backup's owner could not be found."]);
        }

        var credentials = new HaBaseCredentials(inspection.AdminUsername, adminPassword, inspection.Encrypted ? backupPassword : null);
        var row = new BaseBackupRow(target.Release, target.FileName, staged.Sha256, staged.SizeBytes, time.GetUtcNow(),
            inspection.AdminUsername, inspection.Encrypted, inspection.HomeAssistantVersion, storedBy);
        await ReplaceAsync(row, staged.Path, credentials, ct);
        return row;
    }

    /// <summary>
    /// Stores (or replaces) the release's base backup without opening it (demo mode's generated one, tests).
    /// <paramref name="expectedSha256"/> (the manifest's <c>base_backup_sha256</c>) must match when given; nothing is kept otherwise.
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

        await using var staged = await StageAsync(release, content, ct);
        if (expectedSha256 is not null && !string.Equals(expectedSha256, staged.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new BaseBackupException($"{fileName} has SHA-256 {staged.Sha256}, the manifest expects {expectedSha256}");
        }

        var row = new BaseBackupRow(release, fileName, staged.Sha256, staged.SizeBytes, time.GetUtcNow(), credentials.Username,
            credentials.BackupPassword is not null, null, "demo");
        var path = await ReplaceAsync(row, staged.Path, credentials, ct);
        return new BaseBackup(release, fileName, path, staged.Sha256, staged.SizeBytes, row.StoredAt, credentials);
    }

    /// <summary>Puts a verified file in place together with its record and credentials (one transaction), then removes a differently named predecessor.</summary>
    private async Task<string> ReplaceAsync(BaseBackupRow row, string stagedPath, HaBaseCredentials credentials, CancellationToken ct)
    {
        var path = System.IO.Path.Combine(ReleaseDirectory(row.Release), row.FileName);
        var protectedCredentials = protector.Protect(SecretKind.HaBaseCredentials, JsonSerializer.Serialize(credentials));
        await _gate.WaitAsync(ct);
        try
        {
            var previous = await repository.GetAsync(row.Release, ct);
            await repository.ReplaceAsync(row, nameof(SecretKind.HaBaseCredentials), Name(row.Release), protectedCredentials,
                () => File.Move(stagedPath, path, overwrite: true), ct);
            if (previous is not null && previous.FileName != row.FileName)
            {
                // The manifest renamed its base_backup: the old file is ours (recorded in our table) and no longer read.
                File.Delete(System.IO.Path.Combine(ReleaseDirectory(row.Release), previous.FileName));
            }
        }
        finally
        {
            _gate.Release();
        }

        return path;
    }

    /// <summary>
    /// The release's base backup, or null when none is stored. Throws <see cref="BaseBackupException"/> when the file
    /// is gone or no longer matches the recorded SHA-256, or the credentials are missing.
    /// </summary>
    public async Task<BaseBackup?> GetAsync(string release, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return await ReadAsync(release, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>What is recorded about the release's stored base backup (no file read, no secret decrypted); null when none is.</summary>
    public Task<BaseBackupRow?> FindRecordAsync(string release, CancellationToken ct) => repository.GetAsync(release, ct);

    private async Task<BaseBackup?> ReadAsync(string release, CancellationToken ct)
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

    private string ReleaseDirectory(string release)
    {
        if (!SafeName().IsMatch(release))
        {
            throw new BaseBackupException($"'{release}' is not a valid release name");
        }

        var directory = System.IO.Path.Combine(DataDirectories.Create(storage.Value, "base-backups"), release);
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return directory;
    }

    private static string Name(string release) => $"release/{release}";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex SafeName();
}
