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

    /// <summary>The ctrlable-pro template without haos_sha256 in the manifest, beside an LXC template.</summary>
    private static string UnpinnedManifest(string haosVersion = BuildHost.HaosVersion) => $$"""
        release: "{{BuildHost.Release}}"
        community_scripts_ref: "{{BuildHost.Ref}}"
        community_scripts_commit: "{commit}"
        proxmox_min_version: "8.2"
        templates:
          ctrlable-pro:
            kind: vm
            builder: vm/haos-vm.sh
            vmid: 9100
            haos_version: "{{haosVersion}}"
            rebrand: true
            base_backup: "ctrlable-base-2026.07.tar"
            resources: { cpu: 2, ram: 4096, disk: 32 }
          zwavejs:
            kind: lxc
            builder: ct/zwave-js-ui.sh
            vmid: 9101
            resources: { cpu: 1, ram: 512, disk: 4 }
        """;

    [Fact]
    public async Task Without_haos_sha256_the_image_is_verified_against_the_digest_GitHub_gives_and_the_build_says_so()
    {
        await using var host = await BuildHost.StartAsync(UnpinnedManifest());
        using var client = await host.ClientAsync(Role.Operator);

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        build.GetProperty("state").GetString().Should().Be("succeeded", BuildPipelineTests.Describe(build, host));
        host.Guest(9100)!["template"].Should().Be("1");
        host.Guest(9100)!["description"].Should().EndWith(" haos_digest=github");
        var lines = await LogAsync(client, build);
        lines.Should().Contain($"[ctrlable-pro] SHA-256 of haos_ova-{BuildHost.HaosVersion}.qcow2.xz from GitHub's release API: {host.HaosSha256} (digest from GitHub at build time, not pinned in the manifest)");
        lines.Should().ContainSingle(l => l.StartsWith("::ctrlable template-done template=ctrlable-pro ", StringComparison.Ordinal))
            .Which.Should().Contain(" haos_digest=github run=").And.Match(l => BuildHost.EndsWithOwnershipProof(l));
        lines.Should().ContainSingle(l => l.StartsWith("::ctrlable template-done template=zwavejs ", StringComparison.Ordinal))
            .Which.Should().NotContain("haos_digest", "only a VM has an image digest");

        // Asked the way GitHub's REST API wants it, over TLS verified with the configured CA (the stand-in curl logs it).
        host.GitHub.Requests.Should().ContainSingle().Which.Should().Be((
            $"/repos/home-assistant/operating-system/releases/tags/{BuildHost.HaosVersion}", "application/vnd.github+json", "2022-11-28", "ctrlable-build"));
        (await File.ReadAllLinesAsync(host.FetchLog)).Should().Contain($"{host.GitHub.Url.ToString().TrimEnd('/')}/repos/home-assistant/operating-system/releases/tags/{BuildHost.HaosVersion}");

        // A rebuild keeps the template and still says where its digest came from.
        var again = await BuildPipelineTests.StartAndWaitAsync(host, client);
        again.GetProperty("state").GetString().Should().Be("succeeded", BuildPipelineTests.Describe(again, host));
        (await LogAsync(client, again)).Should().ContainSingle(l => l.StartsWith("::ctrlable template-skipped template=ctrlable-pro ", StringComparison.Ordinal))
            .Which.Should().MatchRegex(" haos_digest=github run=[0-9a-f]{16} mac=([0-9A-F]{2}:){5}[0-9A-F]{2} text=already built from ", "the ledger vouches for the kept template");
    }

    [Fact]
    public async Task A_manifest_pinned_digest_is_used_without_asking_GitHub()
    {
        await using var host = await BuildHost.StartAsync(Manifest);
        using var client = await host.ClientAsync(Role.Operator);
        host.GitHub.ServeRelease(BuildHost.HaosVersion, new string('e', 64));

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        build.GetProperty("state").GetString().Should().Be("succeeded", BuildPipelineTests.Describe(build, host));
        (await LogAsync(client, build)).Should().ContainSingle(l => l.StartsWith("::ctrlable template-done template=ctrlable-pro ", StringComparison.Ordinal))
            .Which.Should().Contain(" haos_digest=manifest run=").And.Match(l => BuildHost.EndsWithOwnershipProof(l));
        host.GitHub.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task A_digest_from_GitHub_the_image_does_not_match_fails_only_that_template_and_removes_the_image()
    {
        await using var host = await BuildHost.StartAsync(UnpinnedManifest());
        using var client = await host.ClientAsync(Role.Operator);
        var wrong = new string('a', 64);
        host.GitHub.ServeRelease(BuildHost.HaosVersion, wrong);

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        build.GetProperty("state").GetString().Should().Be("failed");
        var templates = build.GetProperty("templates").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        templates["ctrlable-pro"].GetProperty("state").GetString().Should().Be("failed");
        templates["ctrlable-pro"].GetProperty("error").GetString().Should().Be(
            $"haos_ova-{BuildHost.HaosVersion}.qcow2.xz has SHA-256 {host.HaosSha256}, GitHub's release API gives {wrong} (image removed)");
        templates["zwavejs"].GetProperty("state").GetString().Should().Be("built", "a failing template fails alone");
        host.Guest(9100).Should().BeNull("no VM is created from an image that does not match");
        Directory.EnumerateFiles(host.HaosCache).Should().BeEmpty("the image that does not match is removed");
    }

    public static TheoryData<string, string> GitHubFailures => new()
    {
        { "404", "the manifest gives no haos_sha256 and GitHub has no release 15.1 of home-assistant/operating-system ({api}/repos/home-assistant/operating-system/releases/tags/15.1 answered 404)" },
        { "500", "the manifest gives no haos_sha256 and GitHub's release API answered HTTP 500 for {api}/repos/home-assistant/operating-system/releases/tags/15.1" },
        { "no-digest", "the manifest gives no haos_sha256 and GitHub gives no digest for haos_ova-15.1.qcow2.xz (assets uploaded before June 2025 have none): record haos_sha256 in the manifest" },
        { "no-asset", "the manifest gives no haos_sha256 and GitHub's release 15.1 of home-assistant/operating-system has no asset haos_ova-15.1.qcow2.xz" },
        { "unreachable", "the manifest gives no haos_sha256 and GitHub's release API is unreachable ({api}/repos/home-assistant/operating-system/releases/tags/15.1): curl: (7) Failed to connect to 127.0.0.1 port {port}" },
        { "untrusted", "the manifest gives no haos_sha256 and GitHub's release API is unreachable ({api}/repos/home-assistant/operating-system/releases/tags/15.1): curl: (60) SSL certificate problem: unable to get local issuer certificate" },
    };

    [Theory]
    [MemberData(nameof(GitHubFailures))]
    public async Task Without_a_digest_from_GitHub_that_template_fails_with_the_reason_and_nothing_is_downloaded(string failure, string reason)
    {
        var closedPort = TestPorts.Free();
        var settings = failure switch
        {
            "unreachable" => $"GITHUB_API_URL=https://127.0.0.1:{closedPort}",
            "untrusted" => "GITHUB_API_CA_BUNDLE=",
            _ => "",
        };
        await using var host = await BuildHost.StartAsync(UnpinnedManifest(), wrapperSettings: settings);
        using var client = await host.ClientAsync(Role.Operator);
        switch (failure)
        {
            case "404":
                host.GitHub.ServeStatus(BuildHost.HaosVersion, 404);
                break;
            case "500":
                host.GitHub.ServeStatus(BuildHost.HaosVersion, 500);
                break;
            case "no-digest":
                host.GitHub.ServeRelease(BuildHost.HaosVersion, null);
                break;
            case "no-asset":
                host.GitHub.ServeRelease(BuildHost.HaosVersion, host.HaosSha256, withOva: false);
                break;
        }

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        build.GetProperty("state").GetString().Should().Be("failed");
        var templates = build.GetProperty("templates").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        var api = failure == "unreachable" ? $"https://127.0.0.1:{closedPort}" : host.GitHub.Url.ToString().TrimEnd('/');
        var error = templates["ctrlable-pro"].GetProperty("error").GetString()!;
        var expected = reason.Replace("{api}", api, StringComparison.Ordinal).Replace("{port}", closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        error.Should().StartWith(expected);
        templates["zwavejs"].GetProperty("state").GetString().Should().Be("built");
        host.Guest(9100).Should().BeNull();
        Directory.Exists(host.HaosCache).Should().BeFalse("nothing is downloaded without a digest to verify it against");
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
