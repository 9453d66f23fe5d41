using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using HaSecureTar = Ctrlable.Provisioner.HomeAssistant.SecureTar;

namespace Ctrlable.Provisioner.Releases;

/// <summary>
/// Streams a base backup's Home Assistant part (<c>homeassistant.tar.gz</c>, plain or SecureTar-encrypted) and keeps
/// only the few <c>.storage</c> files <see cref="BaseBackupInspector"/> checks, and whether the Frigate integration is there.
/// </summary>
internal static class BaseBackupCoreReader
{
    internal const string CorePart = "homeassistant.tar.gz";
    internal const string FrigateManifest = "data/custom_components/frigate/manifest.json";
    internal const string AuthStorage = "data/.storage/auth";
    internal const string AuthProvider = "data/.storage/auth_provider.homeassistant";
    internal const string Totp = "data/.storage/auth_module.totp";
    internal const string Notify = "data/.storage/auth_module.notify";
    internal const string Onboarding = "data/.storage/onboarding";
    internal const string ConfigEntries = "data/.storage/core.config_entries";

    // Home Assistant's own .storage files are a few KiB to a few MiB; anything beyond this is not one of them.
    private const long MaxJsonBytes = 32 * 1024 * 1024;

    private static readonly string[] Wanted = [AuthStorage, AuthProvider, Totp, Notify, Onboarding, ConfigEntries];

    /// <summary>
    /// Reads Home Assistant's part: plain gzip, or SecureTar (v1: the IV seed first; v2: a 32-byte header, then the seed)
    /// decrypted as a stream with the backup key. Only the wanted <c>.storage</c> files are kept.
    /// </summary>
    internal static async Task<(bool Encrypted, Core? Core)> ReadCoreAsync(Stream part, string? key, List<string> errors, CancellationToken ct)
    {
        var head = new byte[48];
        var read = await part.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct);
        var isGzip = read >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 0x08;
        if (isGzip)
        {
            return (false, await ReadCoreTarAsync(new PrefixedStream(head[..read], part), errors, ct));
        }

        var v2 = read >= 10 && head.AsSpan(0, 9).SequenceEqual("SecureTar"u8);
        if (v2 && head[9] != 2)
        {
            errors.Add($"The backup is encrypted with a SecureTar version ({head[9]}) the orchestrator cannot open: make the base backup unencrypted (SPEC §7d), or with a Home Assistant that writes version 2.");
            return (true, null);
        }

        if (read < head.Length)
        {
            errors.Add("Home Assistant's part of the backup (homeassistant.tar.gz) is neither gzip nor SecureTar: the backup is damaged.");
            return (false, null);
        }

        if (key is null)
        {
            errors.Add("The backup is encrypted: give its encryption key with it (the owner, the password and the integrations are checked once it can be opened).");
            return (true, null);
        }

        var seed = v2 ? head[32..48] : head[..16];
        var cipherPrefix = v2 ? [] : head[16..48];
        var aesKey = HaSecureTar.Key(key);
        using var aes = Aes.Create();
        aes.Mode = CipherMode.CBC;
        aes.Padding = PaddingMode.None;
        using var decryptor = aes.CreateDecryptor(aesKey, HaSecureTar.Iv(aesKey, seed));
        await using var plain = new CryptoStream(new PrefixedStream(cipherPrefix, part), decryptor, CryptoStreamMode.Read, leaveOpen: true);
        var first = new byte[16];
        var got = await plain.ReadAtLeastAsync(first, first.Length, throwOnEndOfStream: false, ct);
        if (got < 3 || first[0] != 0x1f || first[1] != 0x8b || first[2] != 0x08)
        {
            errors.Add("The encryption key given does not open the backup (the owner, the password and the integrations are checked once it can be opened).");
            return (true, null);
        }

        return (true, await ReadCoreTarAsync(new PrefixedStream(first[..got], plain), errors, ct));
    }

    private static async Task<Core?> ReadCoreTarAsync(Stream gzipped, List<string> errors, CancellationToken ct)
    {
        var files = new Dictionary<string, JsonObject?>(StringComparer.Ordinal);
        var frigate = false;
        try
        {
            await using var gzip = new GZipStream(gzipped, CompressionMode.Decompress);
            var reader = new TarReader(gzip);
            while (await reader.GetNextEntryAsync(copyData: false, ct) is { } entry)
            {
                var name = Normalise(entry.Name);
                frigate |= name == FrigateManifest;
                if (Wanted.Contains(name) && entry.DataStream is { } data)
                {
                    files[name] = await ReadJsonAsync(data, entry.Length, ct);
                }

                if (frigate && files.Count == Wanted.Length)
                {
                    // Everything looked for is found: the rest (the database, media) need not be decompressed.
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException or CryptographicException)
        {
            errors.Add("Home Assistant's part of the backup (homeassistant.tar.gz) cannot be read to its end: the backup is damaged.");
            return null;
        }

        return new Core(files, frigate);
    }

    internal static async Task<JsonObject?> ReadJsonAsync(Stream data, long length, CancellationToken ct)
    {
        if (length > MaxJsonBytes)
        {
            return null;
        }

        try
        {
            return await JsonNode.ParseAsync(data, cancellationToken: ct) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static string Normalise(string name) => name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name;

    internal sealed record Core(IReadOnlyDictionary<string, JsonObject?> Files, bool FrigateIntegration);

    /// <summary>Bytes already read (to look at a header) followed by the rest of the stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _offset;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_offset < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _offset);
                prefix.AsSpan(_offset, n).CopyTo(buffer);
                _offset += n;
                return n;
            }

            return inner.Read(buffer);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_offset < prefix.Length)
            {
                return Read(buffer.Span);
            }

            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
