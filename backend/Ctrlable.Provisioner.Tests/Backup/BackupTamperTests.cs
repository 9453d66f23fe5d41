using Ctrlable.Provisioner.Backup;

namespace Ctrlable.Provisioner.Tests.Backup;

/// <summary>
/// Damaged backups, restored in-process (<see cref="BackupRestore.RunAsync"/>, the code behind <c>--restore-from</c>):
/// each is refused with its reason and the target stays exactly as it was.
/// </summary>
public sealed class BackupTamperTests(BackupSource source) : IClassFixture<BackupSource>
{
    public static TheoryData<string, string> Damage => new()
    {
        // Header: the KDF's iteration count, the salt, the reserved bytes; then the encrypted body, first and last byte.
        { "iterations", "cannot decrypt the backup: wrong passphrase, or the file was changed" },
        { "salt", "cannot decrypt the backup: wrong passphrase, or the file was changed" },
        { "reserved", "the backup file's header was changed or damaged" },
        { "magic", "this is not a Ctrlable Provisioner backup file" },
        { "body", "cannot decrypt the backup: wrong passphrase, or the file was changed" },
        { "tag", "cannot decrypt the backup: wrong passphrase, or the file was changed" },
        { "truncated", "cannot decrypt the backup: wrong passphrase, or the file was changed" },
        { "header only", "the backup file is cut short" },
        { "appended", "cannot decrypt the backup: wrong passphrase, or the file was changed" },
    };

    [Theory]
    [MemberData(nameof(Damage))]
    public async Task A_changed_or_cut_backup_is_refused_and_the_target_is_untouched(string damage, string reason)
    {
        source.Made.ExitCode.Should().Be(0, source.Made.Error);
        var file = source.CopyOfBackup($"{damage}.ctrlable-backup");
        var bytes = (await File.ReadAllBytesAsync(file)).ToList();
        switch (damage)
        {
            case "iterations": bytes[21] ^= 0x01; break;
            case "salt": bytes[30] ^= 0x80; break;
            case "reserved": bytes[44] = 1; break;
            case "magic": bytes[0] = (byte)'X'; break;
            case "body": bytes[BackupCipher.HeaderLength + 100] ^= 0x01; break;
            case "tag": bytes[^1] ^= 0x01; break;
            case "truncated": bytes.RemoveRange(bytes.Count - 100, 100); break;
            case "header only": bytes.RemoveRange(BackupCipher.HeaderLength, bytes.Count - BackupCipher.HeaderLength); break;
            case "appended": bytes.Add(0); break;
        }

        await File.WriteAllBytesAsync(file, [.. bytes]);
        var target = Path.Combine(source.Root, "tampered-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(target);
        var before = BackupSource.TreeHash(target);

        var refused = async () => await BackupRestore.RunAsync(file, target, BackupSource.Passphrase, force: false, DateTimeOffset.UtcNow, CancellationToken.None);

        (await refused.Should().ThrowAsync<BackupException>()).Which.Message.Should().StartWith(reason);
        BackupSource.TreeHash(target).Should().Be(before);
    }

    [Fact]
    public async Task A_refused_restore_into_an_absent_directory_leaves_it_absent()
    {
        var target = Path.Combine(source.Root, "absent-" + Guid.NewGuid().ToString("N"));

        var refused = async () => await BackupRestore.RunAsync(source.BackupFile, target, "a wrong passphrase", force: false, DateTimeOffset.UtcNow, CancellationToken.None);

        await refused.Should().ThrowAsync<BackupException>();
        Directory.Exists(target).Should().BeFalse();
    }

    [Fact]
    public async Task A_chunked_file_round_trips_and_refuses_a_dropped_last_chunk()
    {
        // Larger than one chunk, and exactly one chunk: the last chunk is always shorter than a full one.
        foreach (var size in new[] { BackupCipher.ChunkSize * 2 + 17, BackupCipher.ChunkSize })
        {
            var plain = new byte[size];
            Random.Shared.NextBytes(plain);
            using var encrypted = new MemoryStream();
            await using (var writer = BackupCipher.Encrypt(encrypted, BackupSource.Passphrase))
            {
                await writer.WriteAsync(plain);
            }

            var sealedBytes = encrypted.ToArray();
            using var decrypted = new MemoryStream();
            await BackupCipher.DecryptAsync(new MemoryStream(sealedBytes), decrypted, BackupSource.Passphrase, CancellationToken.None);
            decrypted.ToArray().Should().Equal(plain);

            // Cut after the full chunks: what is left authenticates chunk by chunk, but no chunk says it is the last.
            var fullChunks = BackupCipher.HeaderLength + (size / BackupCipher.ChunkSize * (BackupCipher.ChunkSize + 16));
            var cut = async () => await BackupCipher.DecryptAsync(new MemoryStream(sealedBytes[..fullChunks]), Stream.Null, BackupSource.Passphrase, CancellationToken.None);
            (await cut.Should().ThrowAsync<BackupException>()).Which.Message.Should().Be("the backup file is cut short (incomplete copy?)");
        }
    }
}
