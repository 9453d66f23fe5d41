using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// The ctrlable-pro template: the real wrapper boots the VM once (the qm stand-in writes what a Home Assistant OS
/// boot writes to its disk: host/testing/haos-firstboot), waits for the emulated Core to answer, shuts it down and
/// clears the identity offline with the host's real tools (python GPT and GRUB environment edits, debugfs, e2fsck)
/// before importing the disk. The imported disk is read back with independent tools (sfdisk, mtools, debugfs).
/// </summary>
[Collection(BuildCollection.Name)]
public sealed class HaosTemplateTests
{
    private const string Manifest = BuildPipelineTests.HaosManifest;

    [Fact]
    public async Task The_template_is_booted_once_so_Core_is_on_its_disk_and_shares_no_identity()
    {
        await using var host = await BuildHost.StartAsync(Manifest);
        using var client = await host.ClientAsync(Role.Operator);

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        build.GetProperty("state").GetString().Should().Be("succeeded", BuildPipelineTests.Describe(build, host));
        var lines = await LogAsync(client, build);
        lines.Should().Contain(l => l.Contains("text=First boot: installing Home Assistant Core", StringComparison.Ordinal));
        lines.Should().Contain(l => l.StartsWith("[ctrlable-pro] Home Assistant Core answers on port ", StringComparison.Ordinal));
        (await File.ReadAllLinesAsync(host.FetchLog)).Should().Contain(l => l.StartsWith("http://127.", StringComparison.Ordinal) && l.EndsWith("/api/onboarding", StringComparison.Ordinal),
            "the wrapper asked the VM's own Home Assistant, at the address its guest agent reported");

        var guest = host.Guest(9100)!;
        guest["template"].Should().Be("1");
        guest["scsi0"].Should().Be("local-lvm:base-9100-disk-1,discard=on,size=32G,ssd=1", "the booted disk file was imported to the storage");
        guest.Keys.Should().NotContain(k => k.StartsWith("unused", StringComparison.Ordinal));

        var disk = host.ImportedDisk(9100, "scsi0");
        new FileInfo(disk).Length.Should().Be(32L << 30, "the disk was grown to the manifest's size before the boot");
        var parts = await PartitionsAsync(disk);

        // The boot did happen: Supervisor's record of the installed Core stays, so clones start without the internet.
        (await CatAsync(disk, parts["hassos-data"], "/supervisor/homeassistant.json")).Should().Contain("\"version\": \"2026.11.3\"");
        (await CatAsync(disk, parts["hassos-overlay"], "/etc/hostname")).Should().Be("homeassistant");

        // Its identity is gone: no machine-id in the live GRUB environment, nor in the block the boot left behind.
        var grubenv = await SshServer.Run("mcopy", "-n", "-i", $"{disk}@@{parts["hassos-boot"]}", "::/EFI/BOOT/grubenv", "-");
        grubenv.Should().StartWith("# GRUB Environment Block\nORDER=A B\nA_OK=1\nA_TRY=0\n#").And.HaveLength(1024);
        Bytes(disk, parts["hassos-boot"], 8 << 20).Should().NotContain("MACHINE_ID=");
        (await EntriesAsync(disk, parts["hassos-overlay"], "/var/lib/NetworkManager")).Should().BeEmpty();
        (await EntriesAsync(disk, parts["hassos-overlay"], "/var/lib/systemd")).Should().BeEmpty();
        (await EntriesAsync(disk, parts["hassos-overlay"], "/var/log/journal")).Should().BeEmpty();
        (await EntriesAsync(disk, parts["hassos-data"], "/supervisor/homeassistant/.storage")).Should().BeEmpty();
        await SshServer.Run("e2fsck", "-fn", $"{disk}?offset={parts["hassos-overlay"]}");
        await SshServer.Run("e2fsck", "-fn", $"{disk}?offset={parts["hassos-data"]}");

        Directory.EnumerateFiles(Path.Combine(host.Directory, "work"), "*.raw", SearchOption.AllDirectories).Should().BeEmpty("the 32 GB work file is removed");
    }

    [Fact]
    public async Task A_Core_that_never_answers_fails_the_template_with_the_reason_and_removes_the_VM()
    {
        // Nothing listens on port 1 of the VM's address: as when the host has no internet and Core never arrives.
        await using var host = await BuildHost.StartAsync(Manifest, wrapperSettings: "HAOS_PORTS=1\nHAOS_BOOT_TIMEOUT=3");
        using var client = await host.ClientAsync(Role.Operator);

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        build.GetProperty("state").GetString().Should().Be("failed");
        var template = build.GetProperty("templates").EnumerateArray().Single();
        template.GetProperty("state").GetString().Should().Be("failed");
        template.GetProperty("error").GetString().Should().MatchRegex(
            @"^Home Assistant Core did not answer within 3 s \(address: (127\.\d+\.\d+\.\d+|none reported by the guest agent)\); its first boot downloads Core, so the VM needs internet through vmbr0$");
        host.Guest(9100).Should().BeNull("the half-built VM was stopped and destroyed");
        Directory.EnumerateFiles(Path.Combine(host.Directory, "work"), "*.raw", SearchOption.AllDirectories).Should().BeEmpty();
    }

    private static async Task<List<string>> LogAsync(HttpClient client, JsonElement build)
    {
        var full = await client.GetFromJsonAsync<JsonElement>($"/api/builds/{build.GetProperty("id").GetInt64()}");
        return [.. full.GetProperty("log").GetString()!.Split('\n')];
    }

    /// <summary>Partition name → byte offset, as sfdisk reads the GPT.</summary>
    private static async Task<Dictionary<string, long>> PartitionsAsync(string disk)
    {
        var dump = await SshServer.Run("sfdisk", "--dump", disk);
        return dump.Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"start=\s*(\d+),.*name=""([^""]+)"""))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups[2].Value, m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 512);
    }

    private static async Task<string> CatAsync(string disk, long offset, string path) =>
        await SshServer.Run("debugfs", "-R", $"cat {path}", $"{disk}?offset={offset}");

    /// <summary>The names in a directory of an ext4 partition, without . and ..; the directory must exist.</summary>
    private static async Task<List<string>> EntriesAsync(string disk, long offset, string path)
    {
        var listing = await SshServer.Run("debugfs", "-R", $"ls -p {path}", $"{disk}?offset={offset}");
        listing.Should().Contain("/.//", $"{path} exists");
        return [.. listing.Split('\n').Select(l => l.Split('/')).Where(f => f.Length >= 7 && f[5] is not "." and not "..").Select(f => f[5])];
    }

    private static string Bytes(string disk, long offset, int length)
    {
        using var stream = File.OpenRead(disk);
        stream.Position = offset;
        var buffer = new byte[length];
        stream.ReadExactly(buffer);
        return System.Text.Encoding.Latin1.GetString(buffer);
    }
}
