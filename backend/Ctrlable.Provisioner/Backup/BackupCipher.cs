using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Ctrlable.Provisioner.Backup;

/// <summary>Why a backup file was refused: one line for the dealer.</summary>
public sealed class BackupException(string message) : Exception(message);

/// <summary>
/// The encrypted backup file (SPEC §"Orchestrator self-backup"): a 45-byte header — magic, format version, KDF id,
/// PBKDF2 iterations, salt, chunk size — then the archive in AES-256-GCM chunks. The key is PBKDF2-HMAC-SHA256 of the
/// passphrase with the header's salt. Every chunk's associated data is the whole header, the chunk's index and a
/// last-chunk flag, so a changed header, reordered, dropped or appended chunks and a cut-off file all fail the tag.
/// </summary>
public static class BackupCipher
{
    /// <summary>The shortest passphrase accepted (as for dealer passwords).</summary>
    public const int MinPassphraseLength = 12;

    public const int FormatVersion = 1;
    public const int Iterations = 600_000;

    /// <summary>Refused above this: a changed header must not make a restore spin for hours.</summary>
    public const int MaxIterations = 10_000_000;

    public const int ChunkSize = 1 << 20;
    public const int HeaderLength = 45;

    private const byte KdfPbkdf2Sha256 = 1;
    private const int SaltLength = 16;
    private const int TagLength = 16;
    private static readonly byte[] Magic = "CTRLABLE-BACKUP\0"u8.ToArray();

    /// <summary>A problem with the passphrase, or null when it is acceptable.</summary>
    public static string? PassphraseProblem(string? passphrase) =>
        string.IsNullOrEmpty(passphrase) ? "no passphrase given"
        : passphrase.Length < MinPassphraseLength ? $"the passphrase is too short: use at least {MinPassphraseLength} characters"
        : null;

    /// <summary>A write-only stream: what is written to it reaches <paramref name="output"/> encrypted; dispose it to write the last chunk.</summary>
    public static Stream Encrypt(Stream output, string passphrase, int iterations = Iterations)
    {
        var header = new byte[HeaderLength];
        Magic.CopyTo(header, 0);
        header[16] = FormatVersion;
        header[17] = KdfPbkdf2Sha256;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(18), iterations);
        RandomNumberGenerator.Fill(header.AsSpan(22, SaltLength));
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(38), ChunkSize);
        header[42] = header[43] = header[44] = 0; // reserved
        var key = DeriveKey(passphrase, header.AsSpan(22, SaltLength), iterations);
        output.Write(header);
        return new EncryptingStream(output, header, key);
    }

    /// <summary>Decrypts <paramref name="input"/> into <paramref name="output"/>; throws <see cref="BackupException"/> on any fault.</summary>
    public static async Task DecryptAsync(Stream input, Stream output, string passphrase, CancellationToken ct)
    {
        var header = new byte[HeaderLength];
        if (await input.ReadAtLeastAsync(header, HeaderLength, throwOnEndOfStream: false, ct) < HeaderLength
            || !header.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new BackupException("this is not a Ctrlable Provisioner backup file");
        }

        if (header[16] != FormatVersion || header[17] != KdfPbkdf2Sha256)
        {
            throw new BackupException($"the backup's format version {header[16]} (key derivation {header[17]}) is not one this orchestrator reads; use a newer orchestrator");
        }

        var iterations = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(18));
        var chunkSize = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(38));
        if (iterations is < Iterations or > MaxIterations || chunkSize != ChunkSize || header[42] != 0 || header[43] != 0 || header[44] != 0)
        {
            throw new BackupException(Damaged);
        }

        var key = DeriveKey(passphrase, header.AsSpan(22, SaltLength), iterations);
        using var gcm = new AesGcm(key, TagLength);
        var buffer = new byte[ChunkSize + TagLength];
        var plain = new byte[ChunkSize];
        for (long index = 0; ; index++)
        {
            var read = await input.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
            if (read < TagLength)
            {
                throw new BackupException("the backup file is cut short (incomplete copy?)");
            }

            // Only the last chunk is shorter than a full one (it may be empty).
            var last = read < buffer.Length;
            var length = read - TagLength;
            try
            {
                gcm.Decrypt(Nonce(index), buffer.AsSpan(0, length), buffer.AsSpan(length, TagLength), plain.AsSpan(0, length), AssociatedData(header, index, last));
            }
            catch (AuthenticationTagMismatchException)
            {
                throw new BackupException(WrongPassphrase);
            }

            await output.WriteAsync(plain.AsMemory(0, length), ct);
            if (last)
            {
                return;
            }
        }
    }

    private const string WrongPassphrase = "cannot decrypt the backup: wrong passphrase, or the file was changed or damaged";
    private const string Damaged = "the backup file's header was changed or damaged";

    private static byte[] DeriveKey(string passphrase, ReadOnlySpan<byte> salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase), salt, iterations, HashAlgorithmName.SHA256, 32);

    // One key per file (a fresh salt), so the chunk index alone is a unique nonce.
    private static byte[] Nonce(long index)
    {
        var nonce = new byte[12];
        BinaryPrimitives.WriteInt64BigEndian(nonce.AsSpan(4), index);
        return nonce;
    }

    private static byte[] AssociatedData(byte[] header, long index, bool last)
    {
        var data = new byte[HeaderLength + 9];
        header.CopyTo(data, 0);
        BinaryPrimitives.WriteInt64BigEndian(data.AsSpan(HeaderLength), index);
        data[^1] = last ? (byte)1 : (byte)0;
        return data;
    }

    private sealed class EncryptingStream(Stream output, byte[] header, byte[] key) : Stream
    {
        private readonly AesGcm _gcm = new(key, TagLength);
        private readonly byte[] _plain = new byte[ChunkSize];
        private readonly byte[] _sealed = new byte[ChunkSize + TagLength];
        private int _filled;
        private long _index;
        private bool _done;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (buffer.Length > 0)
            {
                // A full chunk is sealed only when more data follows: the last chunk is always shorter than a full one.
                if (_filled == ChunkSize)
                {
                    Seal(last: false);
                }

                var take = Math.Min(buffer.Length, ChunkSize - _filled);
                buffer[..take].CopyTo(_plain.AsSpan(_filled));
                _filled += take;
                buffer = buffer[take..];
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override void Flush() => output.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_done)
            {
                _done = true;
                if (_filled == ChunkSize)
                {
                    Seal(last: false);
                }

                Seal(last: true);
                output.Flush();
                _gcm.Dispose();
            }

            base.Dispose(disposing);
        }

        private void Seal(bool last)
        {
            _gcm.Encrypt(Nonce(_index), _plain.AsSpan(0, _filled), _sealed.AsSpan(0, _filled), _sealed.AsSpan(_filled, TagLength), AssociatedData(header, _index, last));
            output.Write(_sealed.AsSpan(0, _filled + TagLength));
            _index++;
            _filled = 0;
        }
    }
}
