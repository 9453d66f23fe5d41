using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Ctrlable.HaSim.Backups;

/// <summary>The backup password does not decrypt the inner archive (Home Assistant: <c>incorrect_password</c>).</summary>
public sealed class HaBackupPasswordException(string message) : Exception(message);

/// <summary>
/// SecureTar v2 as Supervisor writes protected backups (home-assistant-libs/securetar): each inner
/// <c>*.tar.gz</c> is <c>"SecureTar" | 0x02 | 6×0x00 | plaintext size (u64 BE) | 8×0x00 | 16-byte salt</c> followed by
/// AES-128-CBC (PKCS7) of the gzip stream. Key: SHA-256 of the password applied 100 times, first 16 bytes; IV: SHA-256
/// of key‖salt applied 100 times, first 16 bytes. A wrong key is detected the way securetar does it: the first
/// decrypted block is neither gzip nor tar. (securetar v3, Argon2id + XChaCha20, is not modelled.)
/// </summary>
public static class SecureTar
{
    private static readonly byte[] Magic = "SecureTar"u8.ToArray();
    private const int HeaderSize = 48;

    public static byte[] Encrypt(byte[] plaintext, string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var key = KeyOf(password);
        using var aes = Aes.Create();
        aes.Key = key;
        var cipher = aes.EncryptCbc(plaintext, IvOf(key, salt), PaddingMode.PKCS7);
        var output = new byte[HeaderSize + cipher.Length];
        Magic.CopyTo(output, 0);
        output[9] = 2;
        BinaryPrimitives.WriteUInt64BigEndian(output.AsSpan(16), (ulong)plaintext.Length);
        salt.CopyTo(output, 32);
        cipher.CopyTo(output, HeaderSize);
        return output;
    }

    public static bool IsEncrypted(byte[] data) => data.Length >= HeaderSize && data.AsSpan(0, 9).SequenceEqual(Magic);

    /// <summary>Throws <see cref="HaBackupPasswordException"/> when the password is wrong.</summary>
    public static byte[] Decrypt(byte[] data, string password)
    {
        if (!IsEncrypted(data) || data[9] != 2)
        {
            throw new InvalidDataException("not a SecureTar v2 file");
        }

        var key = KeyOf(password);
        var salt = data.AsSpan(32, 16).ToArray();
        using var aes = Aes.Create();
        aes.Key = key;
        var body = data.AsSpan(HeaderSize);
        if (body.Length < 16 || body.Length % 16 != 0)
        {
            throw new InvalidDataException("SecureTar body is not whole AES blocks");
        }

        var first = aes.DecryptCbc(body[..16], IvOf(key, salt), PaddingMode.None);
        if (!(first[0] == 0x1f && first[1] == 0x8b && first[2] == 0x08))
        {
            throw new HaBackupPasswordException("The inner tar is not gzip or tar, wrong key?");
        }

        try
        {
            return aes.DecryptCbc(body, IvOf(key, salt), PaddingMode.PKCS7);
        }
        catch (CryptographicException)
        {
            throw new HaBackupPasswordException("Invalid padding, wrong key?");
        }
    }

    private static byte[] KeyOf(string password)
    {
        var key = Encoding.UTF8.GetBytes(password);
        for (var i = 0; i < 100; i++)
        {
            key = SHA256.HashData(key);
        }

        return key[..16];
    }

    private static byte[] IvOf(byte[] key, byte[] salt)
    {
        var iv = key.Concat(salt).ToArray();
        for (var i = 0; i < 100; i++)
        {
            iv = SHA256.HashData(iv);
        }

        return iv[..16];
    }
}
