using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ctrlable.Provisioner.HomeAssistant;

/// <summary>What a per-site copy of the base backup changes.</summary>
/// <param name="CoreUuid">The site's fresh <c>core.uuid</c> (32 lower-case hex digits, as Home Assistant writes it).</param>
/// <param name="Password">The backup's encryption key when it is protected; null for an unencrypted backup.</param>
public sealed record BackupRewrite(string CoreUuid, string? Password);

/// <summary>What a rewrite did, for the log and the instance record.</summary>
public sealed record BackupRewriteResult(bool Encrypted, int RefreshTokensRemoved, string? Slug);

/// <summary>The backup cannot be used: not a Home Assistant backup, or its key does not open it. The message says which.</summary>
public sealed class BackupArchiveException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Rewrites a Supervisor backup for one site (uuid policy <c>regenerate</c>): the outer tar holds <c>backup.json</c> and
/// one tar.gz per part; Home Assistant's part (<c>homeassistant.tar.gz</c>, SecureTar-encrypted when the backup is
/// protected) holds <c>data/</c> = /config. The copy gets a fresh <c>data/.storage/core.uuid</c> and loses every
/// refresh token of <c>data/.storage/auth</c> but the system users' (the Supervisor's own access to Core), so no
/// two sites share an instance id or a token. Everything else is copied byte for byte.
/// </summary>
public static class BackupArchive
{
    private const string CorePart = "homeassistant.tar.gz";
    private const string CoreUuidFile = "data/.storage/core.uuid";
    private const string AuthFile = "data/.storage/auth";

    /// <summary>A fresh instance id, as Home Assistant makes one (uuid4().hex).</summary>
    public static string NewCoreUuid() => Guid.NewGuid().ToString("N");

    public static async Task<BackupRewriteResult> RewriteAsync(Stream source, Stream destination, BackupRewrite rewrite, string scratchDirectory, CancellationToken ct)
    {
        // A folder of its own: rewrites for several sites may run at once.
        scratchDirectory = Path.Combine(scratchDirectory, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(scratchDirectory);
        var scratch = Path.Combine(scratchDirectory, "homeassistant.part");
        try
        {
            var reader = new TarReader(source, leaveOpen: true);
            await using var writer = new TarWriter(destination, TarEntryFormat.Pax, leaveOpen: true);
            JsonObject? backupJson = null;
            TarEntry? backupJsonEntry = null;
            var parts = new List<(TarEntry Entry, string? File)>();
            var encrypted = false;
            var removed = 0;
            var sawCore = false;
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: true, ct);
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException)
            {
                throw new BackupArchiveException("The base backup is not a tar archive.", ex);
            }

            for (; entry is not null; entry = await reader.GetNextEntryAsync(copyData: true, ct))
            {
                var name = Normalise(entry.Name);
                if (name == "backup.json")
                {
                    backupJson = await ReadJsonAsync(entry, "backup.json", ct);
                    backupJsonEntry = entry;
                    continue;
                }

                if (name == CorePart && entry.DataStream is { } part)
                {
                    sawCore = true;
                    await using (var output = File.Create(scratch))
                    {
                        (encrypted, removed) = await RewriteCorePartAsync(part, output, rewrite, ct);
                    }

                    parts.Add((entry, scratch));
                    continue;
                }

                // Other parts (add-ons, folders) are kept as they are; buffered because backup.json goes first.
                if (entry.DataStream is { } data)
                {
                    var copy = Path.Combine(scratchDirectory, $"part-{Guid.NewGuid():N}.tmp");
                    await using (var file = File.Create(copy))
                    {
                        await data.CopyToAsync(file, ct);
                    }

                    parts.Add((entry, copy));
                }
                else
                {
                    parts.Add((entry, null));
                }
            }

            if (backupJson is null || backupJsonEntry is null)
            {
                throw new BackupArchiveException("The base backup has no backup.json: it is not a Home Assistant backup.");
            }

            if (!sawCore)
            {
                throw new BackupArchiveException($"The base backup has no {CorePart}: it does not include Home Assistant's configuration.");
            }

            if (backupJson["homeassistant"] is JsonObject core && core["size"] is JsonValue)
            {
                core["size"] = Math.Round(new FileInfo(scratch).Length / 1_048_576.0, 2);
            }

            if (backupJson["extra"] is JsonObject extra && extra.ContainsKey("instance_id"))
            {
                extra["instance_id"] = rewrite.CoreUuid;
            }

            await WriteAsync(writer, backupJsonEntry, new MemoryStream(Encoding.UTF8.GetBytes(backupJson.ToJsonString(new JsonSerializerOptions { WriteIndented = true }))), ct);
            foreach (var (partEntry, file) in parts)
            {
                if (file is null)
                {
                    await writer.WriteEntryAsync(partEntry, ct);
                    continue;
                }

                await using var stream = File.OpenRead(file);
                await WriteAsync(writer, partEntry, stream, ct);
            }

            return new BackupRewriteResult(encrypted, removed, backupJson["slug"]?.GetValue<string>());
        }
        finally
        {
            Directory.Delete(scratchDirectory, recursive: true);
        }
    }

    /// <summary>Reads backup.json of a backup (slug, protected, homeassistant.exclude_database).</summary>
    public static async Task<JsonObject> ReadBackupJsonAsync(Stream source, CancellationToken ct)
    {
        var reader = new TarReader(source, leaveOpen: true);
        while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
        {
            if (Normalise(entry.Name) == "backup.json")
            {
                return await ReadJsonAsync(entry, "backup.json", ct);
            }
        }

        throw new BackupArchiveException("The base backup has no backup.json: it is not a Home Assistant backup.");
    }

    private static async Task<(bool Encrypted, int Removed)> RewriteCorePartAsync(Stream part, Stream output, BackupRewrite rewrite, CancellationToken ct)
    {
        var bytes = new MemoryStream();
        await part.CopyToAsync(bytes, ct);
        var raw = bytes.ToArray();
        var encrypted = !IsGzip(raw);
        SecureTarHeader? header = null;
        byte[] gzip;
        if (encrypted)
        {
            if (rewrite.Password is null)
            {
                throw new BackupArchiveException("The base backup is encrypted but no backup key is stored for the release.");
            }

            (header, gzip) = SecureTar.Decrypt(raw, rewrite.Password);
        }
        else
        {
            gzip = raw;
        }

        var tar = new MemoryStream();
        var removed = 0;
        var wroteUuid = false;
        await using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            await using var unzip = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
            var reader = new TarReader(unzip);
            while (await reader.GetNextEntryAsync(copyData: true, ct) is { } entry)
            {
                switch (Normalise(entry.Name))
                {
                    case CoreUuidFile:
                        await WriteAsync(writer, entry, Json(CoreUuidJson(await ReadJsonAsync(entry, CoreUuidFile, ct), rewrite.CoreUuid)), ct);
                        wroteUuid = true;
                        break;
                    case AuthFile:
                        var auth = await ReadJsonAsync(entry, AuthFile, ct);
                        removed = RemoveUserTokens(auth);
                        await WriteAsync(writer, entry, Json(auth), ct);
                        break;
                    default:
                        await writer.WriteEntryAsync(entry, ct);
                        break;
                }
            }

            if (!wroteUuid)
            {
                var created = new PaxTarEntry(TarEntryType.RegularFile, CoreUuidFile) { Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
                await WriteAsync(writer, created, Json(CoreUuidJson(null, rewrite.CoreUuid)), ct);
            }
        }

        var compressed = new MemoryStream();
        await using (var zip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            tar.Position = 0;
            await tar.CopyToAsync(zip, ct);
        }

        var result = encrypted ? SecureTar.Encrypt(compressed.ToArray(), rewrite.Password!, header!) : compressed.ToArray();
        await output.WriteAsync(result, ct);
        return (encrypted, removed);
    }

    /// <summary>Drops every refresh token but the system users' (the Supervisor's access to Core): users sign in again.</summary>
    private static int RemoveUserTokens(JsonObject auth)
    {
        if (auth["data"]?["refresh_tokens"] is not JsonArray tokens)
        {
            return 0;
        }

        var removed = tokens.Where(t => t?["token_type"]?.GetValue<string>() != "system").ToList();
        foreach (var token in removed)
        {
            tokens.Remove(token);
        }

        return removed.Count;
    }

    private static JsonObject CoreUuidJson(JsonObject? existing, string uuid)
    {
        var json = existing ?? new JsonObject { ["version"] = 1, ["minor_version"] = 1, ["key"] = "core.uuid" };
        json["data"] = new JsonObject { ["uuid"] = uuid };
        return json;
    }

    private static MemoryStream Json(JsonObject json) => new(Encoding.UTF8.GetBytes(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));

    private static async Task<JsonObject> ReadJsonAsync(TarEntry entry, string what, CancellationToken ct)
    {
        try
        {
            return entry.DataStream is { } data && await JsonNode.ParseAsync(data, cancellationToken: ct) is JsonObject json
                ? json
                : throw new BackupArchiveException($"{what} in the base backup is not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new BackupArchiveException($"{what} in the base backup is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Writes <paramref name="entry"/>'s metadata with new content.</summary>
    private static async Task WriteAsync(TarWriter writer, TarEntry entry, Stream content, CancellationToken ct)
    {
        var copy = new PaxTarEntry(TarEntryType.RegularFile, entry.Name)
        {
            Mode = entry.Mode,
            ModificationTime = entry.ModificationTime,
            Uid = entry.Uid,
            Gid = entry.Gid,
            DataStream = content,
        };
        await writer.WriteEntryAsync(copy, ct);
    }

    private static string Normalise(string name) => name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name;

    private static bool IsGzip(byte[] data) => data.Length >= 3 && data[0] == 0x1f && data[1] == 0x8b && data[2] == 0x08;
}

/// <summary>The SecureTar header of an encrypted part: v2 has a magic and the plaintext size before the IV seed, v1 only the seed.</summary>
internal sealed record SecureTarHeader(bool V2, byte[] Seed);

/// <summary>
/// SecureTar, the encryption of protected Supervisor backups (v1 and v2, AES-128-CBC): key = SHA-256 applied 100
/// times to the password, first 16 bytes; IV = the same over key + the 16-byte seed stored in the header.
/// </summary>
internal static class SecureTar
{
    private static readonly byte[] Magic = [.. "SecureTar"u8, 2, 0, 0, 0, 0, 0, 0];

    public static (SecureTarHeader Header, byte[] Plain) Decrypt(byte[] data, string password)
    {
        var v2 = data.AsSpan().StartsWith(Magic);
        if (!v2 && data.AsSpan().StartsWith("SecureTar"u8))
        {
            throw new BackupArchiveException($"The base backup uses a SecureTar version ({data[9]}) the orchestrator cannot open; make the base backup with a Home Assistant that writes version 2 or unencrypted.");
        }

        var offset = v2 ? 32 : 0;
        if (data.Length < offset + 32 || (data.Length - offset - 16) % 16 != 0)
        {
            throw new BackupArchiveException("Home Assistant's part of the base backup is neither gzip nor SecureTar: the backup is damaged.");
        }

        var seed = data[offset..(offset + 16)];
        var key = Key(password);
        using var aes = Aes.Create();
        aes.Key = key;
        var plain = aes.DecryptCbc(data.AsSpan(offset + 16), Iv(key, seed), PaddingMode.None);
        if (plain.Length < 3 || plain[0] != 0x1f || plain[1] != 0x8b || plain[2] != 0x08)
        {
            throw new BackupArchiveException("The base backup's encryption key is wrong: it does not open the backup (check the backup key stored with the release).");
        }

        var length = v2
            ? (int)Math.Min(plain.Length, (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(16, 8)))
            : plain.Length - Padding(plain);
        return (new SecureTarHeader(v2, seed), plain[..length]);
    }

    public static byte[] Encrypt(byte[] plain, string password, SecureTarHeader header)
    {
        var key = Key(password);
        var seed = RandomNumberGenerator.GetBytes(16);
        using var aes = Aes.Create();
        aes.Key = key;
        var cipher = aes.EncryptCbc(plain, Iv(key, seed), PaddingMode.PKCS7);
        var output = new MemoryStream();
        if (header.V2)
        {
            output.Write(Magic);
            Span<byte> size = stackalloc byte[16];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(size, (ulong)plain.Length);
            output.Write(size);
        }

        output.Write(seed);
        output.Write(cipher);
        return output.ToArray();
    }

    private static int Padding(byte[] plain)
    {
        var n = plain[^1];
        return n is >= 1 and <= 16 && plain.Length >= n && plain.AsSpan(plain.Length - n).IndexOfAnyExcept(n) < 0 ? n : 0;
    }

    internal static byte[] Key(string password) => Hash100(Encoding.UTF8.GetBytes(password))[..16];

    internal static byte[] Iv(byte[] key, byte[] seed) => Hash100([.. key, .. seed])[..16];

    private static byte[] Hash100(byte[] data)
    {
        for (var i = 0; i < 100; i++)
        {
            data = SHA256.HashData(data);
        }

        return data;
    }
}
