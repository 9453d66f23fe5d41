using System.Xml.Linq;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.State;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Secrets;

/// <summary>The kinds of secret the orchestrator keeps; each is encrypted under its own Data Protection purpose.</summary>
public enum SecretKind
{
    ProxmoxTokenSecret,
    PlatformToken,
    HostTriggerKeyPassphrase,
    FirstBootSecret,
    InstanceAppSecret,
    ProjectAppSecret,

    /// <summary>A release's Home Assistant base backup admin credentials (JSON), name <c>release/&lt;release&gt;</c>.</summary>
    HaBaseCredentials,

    /// <summary>A site's Home Assistant credentials the deploy made (owner password; orchestrator user and its long-lived token).</summary>
    HomeAssistantCredential,

    /// <summary>A notification target's secret (webhook signing secret or header value, ntfy token, SMTP password), name <c>alert-target/&lt;id&gt;/&lt;field&gt;</c>.</summary>
    AlertTargetSecret,
}

/// <summary>
/// Encrypts and decrypts secrets with ASP.NET Core Data Protection, one purpose string per <see cref="SecretKind"/>,
/// so a value protected as one kind cannot be read back as another.
/// </summary>
public sealed class SecretProtector(IDataProtectionProvider provider)
{
    public string Protect(SecretKind kind, string value) => For(kind).Protect(value);

    /// <summary>Throws <see cref="System.Security.Cryptography.CryptographicException"/> when the key ring lacks the key or the purpose differs.</summary>
    public string Unprotect(SecretKind kind, string protectedValue) => For(kind).Unprotect(protectedValue);

    private IDataProtector For(SecretKind kind) => provider.CreateProtector("Ctrlable.Provisioner.Secrets", kind.ToString(), "v1");
}

public sealed record SecretInfo(SecretKind Kind, string Name, DateTimeOffset UpdatedAt);

/// <summary>
/// The generic helper every feature uses for secrets at rest (per-release first-boot secrets, per-instance app
/// secrets, credentials set in the SPA): values go into the <c>secrets</c> table encrypted, and come out only
/// through <see cref="GetAsync"/>. Never return a value from a read endpoint and never log one.
/// </summary>
public sealed class SecretStore(Database database, SecretProtector protector, TimeProvider time)
{
    public async Task SetAsync(SecretKind kind, string name, string value, CancellationToken ct = default)
    {
        const string sql = """
            INSERT INTO secrets (kind, name, protected_value, updated_at) VALUES (@kind, @name, @protectedValue, @now)
            ON CONFLICT (kind, name) DO UPDATE SET protected_value = excluded.protected_value, updated_at = excluded.updated_at;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            sql, new { kind = kind.ToString(), name, protectedValue = protector.Protect(kind, value), now = time.GetUtcNow() }, cancellationToken: ct));
    }

    public async Task<string?> GetAsync(SecretKind kind, string name, CancellationToken ct = default)
    {
        const string sql = "SELECT protected_value FROM secrets WHERE kind = @kind AND name = @name;";
        await using var connection = await database.OpenAsync(ct);
        var value = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(sql, new { kind = kind.ToString(), name }, cancellationToken: ct));
        return value is null ? null : protector.Unprotect(kind, value);
    }

    public async Task<bool> DeleteAsync(SecretKind kind, string name, CancellationToken ct = default)
    {
        const string sql = "DELETE FROM secrets WHERE kind = @kind AND name = @name;";
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { kind = kind.ToString(), name }, cancellationToken: ct)) > 0;
    }

    /// <summary>Which secrets of a kind exist (names and times, never values); <paramref name="namePrefix"/> narrows, e.g. "instance/42/".</summary>
    public async Task<IReadOnlyList<SecretInfo>> ListAsync(SecretKind kind, string namePrefix = "", CancellationToken ct = default)
    {
        const string sql = """
            SELECT name AS Name, updated_at AS UpdatedAt FROM secrets
            WHERE kind = @kind AND substr(name, 1, length(@namePrefix)) = @namePrefix ORDER BY name;
            """;
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<SecretRow>(new CommandDefinition(sql, new { kind = kind.ToString(), namePrefix }, cancellationToken: ct));
        return [.. rows.Select(r => new SecretInfo(kind, r.Name, r.UpdatedAt))];
    }

    private sealed record SecretRow(string Name, DateTimeOffset UpdatedAt);
}

public static class SecretsRegistration
{
    public const string ApplicationName = "ctrlable-provisioner";

    /// <summary>Data Protection with its key ring in <c>&lt;data&gt;/keys</c> (0700, files 0600); cookies, antiforgery and the secret store use it.</summary>
    public static IServiceCollection AddSecrets(this IServiceCollection services)
    {
        services.AddDataProtection().SetApplicationName(ApplicationName);
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<StorageOptions>, ILoggerFactory>((o, storage, loggers) =>
        {
            o.XmlRepository = new RestrictedFileXmlRepository(DataDirectories.Create(storage.Value, "keys"), loggers);
            // Linux has no DPAPI, and a certificate or secret to encrypt the keys with would sit in the same data
            // directory: the owner-only files are the protection. Saying so explicitly ends the "No XML encryptor
            // configured" warning on every start.
            o.XmlEncryptor = new NullXmlEncryptor();
        });
        services.AddSingleton<SecretProtector>();
        services.AddSingleton<SecretStore>();
        return services;
    }

    /// <summary>The file system key repository, with every key file readable by the owner only.</summary>
    private sealed class RestrictedFileXmlRepository(string directory, ILoggerFactory loggers) : IXmlRepository
    {
        private readonly FileSystemXmlRepository _inner = new(new DirectoryInfo(directory), loggers);

        public IReadOnlyCollection<XElement> GetAllElements() => _inner.GetAllElements();

        public void StoreElement(XElement element, string friendlyName)
        {
            _inner.StoreElement(element, friendlyName);
            DataDirectories.RestrictFiles(directory);
        }
    }
}

/// <summary>Private folders inside the data directory (keys, TLS): 0700, their files 0600.</summary>
public static class DataDirectories
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static string Create(StorageOptions storage, string name)
    {
        var path = Path.Combine(Path.GetFullPath(storage.DataDirectory), name);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return path;
        }

        Directory.CreateDirectory(path, OwnerOnlyDirectory);
        File.SetUnixFileMode(path, OwnerOnlyDirectory);
        RestrictFiles(path);
        return path;
    }

    public static void RestrictFiles(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(directory))
        {
            RestrictFile(file);
        }
    }

    public static void RestrictFile(string file)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, OwnerOnlyFile);
        }
    }
}
