using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.HomeAssistant;

/// <summary>
/// The per-site copy of a base backup (uuid policy regenerate), against fixtures made independently of this code the
/// way Supervisor makes backups (Fixtures/make_fixtures.py: plain, and SecureTar v2 with the key "base-backup-key").
/// </summary>
public sealed class BackupArchiveTests
{
    private const string BaseUuid = "0123456789abcdef0123456789abcdef";
    private const string Key = "base-backup-key";

    private static string Fixture(string name) => Path.Combine(RepoPaths.Root, "backend", "Ctrlable.Provisioner.Tests", "HomeAssistant", "Fixtures", name);

    [Theory]
    [InlineData("base-plain.tar", null)]
    [InlineData("base-encrypted.tar", Key)]
    public async Task The_site_copy_has_a_fresh_uuid_no_user_tokens_and_everything_else_unchanged(string fixture, string? key)
    {
        var uuid = BackupArchive.NewCoreUuid();
        var (result, copy) = await RewriteAsync(fixture, new BackupRewrite(uuid, key));

        result.Encrypted.Should().Be(key is not null);
        result.RefreshTokensRemoved.Should().Be(2);
        var (backupJson, files, encrypted) = Open(copy, key);
        encrypted.Should().Be(key is not null, "an encrypted base gives an encrypted copy");
        backupJson["slug"]!.GetValue<string>().Should().Be("c7a1b2d3");
        backupJson["extra"]!["instance_id"]!.GetValue<string>().Should().Be(uuid);
        JsonNode.Parse(files["data/.storage/core.uuid"])!["data"]!["uuid"]!.GetValue<string>().Should().Be(uuid).And.NotBe(BaseUuid).And.MatchRegex("^[0-9a-f]{32}$");
        var auth = JsonNode.Parse(files["data/.storage/auth"])!;
        auth["data"]!["refresh_tokens"]!.AsArray().Select(t => t!["id"]!.GetValue<string>()).Should().Equal("rt-system");
        auth["data"]!["users"]!.AsArray().Should().HaveCount(2, "users and credentials stay: the orchestrator signs in with the base's owner");
        files["data/configuration.yaml"].Should().Be("default_config:\n");
        files["homeassistant.json"].Should().Contain("2026.6.0");
    }

    [Fact]
    public async Task A_wrong_key_fails_with_a_clear_message()
    {
        var act = () => RewriteAsync("base-encrypted.tar", new BackupRewrite(BackupArchive.NewCoreUuid(), "not-the-key"));

        (await act.Should().ThrowAsync<BackupArchiveException>()).Which.Message.Should().Contain("encryption key is wrong");
    }

    [Fact]
    public async Task An_encrypted_backup_without_a_key_and_a_file_that_is_no_backup_are_refused()
    {
        (await ((Func<Task>)(() => RewriteAsync("base-encrypted.tar", new BackupRewrite(BackupArchive.NewCoreUuid(), null)))).Should().ThrowAsync<BackupArchiveException>())
            .Which.Message.Should().Contain("no backup key");

        var notTar = TempDirectory.Create("ha-backup");
        var path = Path.Combine(notTar, "x.tar");
        await File.WriteAllTextAsync(path, "just text, long enough to be more than one line of anything at all");
        await using var source = File.OpenRead(path);
        var act = () => BackupArchive.RewriteAsync(source, new MemoryStream(), new BackupRewrite(BackupArchive.NewCoreUuid(), null), notTar, CancellationToken.None);
        (await act.Should().ThrowAsync<BackupArchiveException>()).Which.Message.Should().Contain("base backup");
        TempDirectory.TryDelete(notTar);
    }

    [Fact]
    public void The_address_comes_from_the_lan_interface_not_home_assistants_own_networks()
    {
        static GuestInterface Nic(string name, params string[] addresses) =>
            new(name, null, null, [.. addresses.Select(a => new GuestIpAddress(a.Contains(':') ? "ipv6" : "ipv4", a, 24))], null);

        LocatePhase.PrimaryAddress(
        [
            Nic("lo", "127.0.0.1", "::1"),
            Nic("docker0", "172.30.232.1"),
            Nic("hassio", "172.30.32.1"),
            Nic("veth1a2b3c", "fe80::1"),
            Nic("enp0s18", "fe80::be24:11ff:fe00:1", "2001:db8::5", "192.168.1.50"),
        ]).Should().Be("192.168.1.50");
        LocatePhase.PrimaryAddress([Nic("lo", "127.0.0.1"), Nic("enp0s18", "fe80::1")]).Should().BeNull("a link-local address is not reachable from the orchestrator");
        LocatePhase.PrimaryAddress([Nic("enp0s18", "2001:db8::5")]).Should().Be("2001:db8::5");
        LocatePhase.PrimaryAddress(null).Should().BeNull();
    }

    private static async Task<(BackupRewriteResult Result, byte[] Copy)> RewriteAsync(string fixture, BackupRewrite rewrite)
    {
        var scratch = TempDirectory.Create("ha-backup");
        try
        {
            await using var source = File.OpenRead(Fixture(fixture));
            var destination = new MemoryStream();
            var result = await BackupArchive.RewriteAsync(source, destination, rewrite, scratch, CancellationToken.None);
            Directory.EnumerateFileSystemEntries(scratch).Should().BeEmpty("the rewrite cleans up after itself");
            return (result, destination.ToArray());
        }
        finally
        {
            TempDirectory.TryDelete(scratch);
        }
    }

    /// <summary>backup.json and the files of Home Assistant's part (decrypted with <paramref name="key"/> when protected).</summary>
    private static (JsonObject BackupJson, Dictionary<string, string> Files, bool Encrypted) Open(byte[] backup, string? key)
    {
        var outer = new TarReader(new MemoryStream(backup));
        JsonObject? json = null;
        byte[]? part = null;
        while (outer.GetNextEntry(copyData: true) is { } entry)
        {
            var bytes = new MemoryStream();
            entry.DataStream?.CopyTo(bytes);
            switch (entry.Name.TrimStart('.', '/'))
            {
                case "backup.json":
                    json = JsonNode.Parse(bytes.ToArray())!.AsObject();
                    break;
                case "homeassistant.tar.gz":
                    part = bytes.ToArray();
                    break;
            }
        }

        var encrypted = part![0] != 0x1f;
        var gzip = encrypted ? SecureTar.Decrypt(part, key!).Plain : part;
        var files = new Dictionary<string, string>();
        var inner = new TarReader(new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress));
        while (inner.GetNextEntry(copyData: true) is { } entry)
        {
            using var reader = new StreamReader(entry.DataStream!);
            files[entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name] = reader.ReadToEnd();
        }

        return (json!, files, encrypted);
    }
}
