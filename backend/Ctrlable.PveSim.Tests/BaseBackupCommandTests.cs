using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Tests;

/// <summary>
/// <c>--write-base-backup FILE</c>: the emulator's base backup written to a file for tests outside .NET (the browser tests
/// upload it), the owner's password read from standard input, the parts a refused backup lacks left out on request.
/// </summary>
public sealed class BaseBackupCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pvesim-base-backup-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Writes_a_base_backup_with_the_owner_and_parts_asked_for_and_prints_its_sha256_and_slug()
    {
        var file = Path.Combine(_dir, "base.tar");
        var (exit, output, error) = await RunAsync(["--write-base-backup", file, "--admin", "dealer-base", "--name", "E2E base"], "owner-Passw0rd\n");

        exit.Should().Be(0, error);
        var printed = JsonNode.Parse(output)!;
        var bytes = await File.ReadAllBytesAsync(file);
        printed["file"]!.GetValue<string>().Should().Be(file);
        printed["sha256"]!.GetValue<string>().Should().Be(Convert.ToHexStringLower(SHA256.HashData(bytes)));
        printed["admin"]!.GetValue<string>().Should().Be("dealer-base");
        var backup = HaBackup.Read(bytes, null);
        printed["slug"]!.GetValue<string>().Should().Be(backup.Slug);
        backup.Name.Should().Be("E2E base");
        backup.Parts.Keys.Should().Contain("core_mosquitto.tar.gz");
        var config = HaConfig.FromFiles(backup.ConfigFiles);
        config.PasswordMatches("dealer-base", "owner-Passw0rd").Should().BeTrue();
        config.OtherFiles.Keys.Should().Contain("custom_components/frigate/manifest.json");
        output.Should().NotContain("owner-Passw0rd");

        var partial = Path.Combine(_dir, "partial.tar");
        (await RunAsync(["--write-base-backup", partial, "--without", "mosquitto,frigate"], "pw\n")).Exit.Should().Be(0);
        var lacking = HaBackup.Read(await File.ReadAllBytesAsync(partial), null);
        lacking.Parts.Keys.Should().NotContain("core_mosquitto.tar.gz");
        lacking.Metadata["addons"]!.AsArray().Should().BeEmpty();
        HaConfig.FromFiles(lacking.ConfigFiles).OtherFiles.Keys.Should().NotContain(k => k.StartsWith("custom_components/frigate/", StringComparison.Ordinal));
        HaConfig.FromFiles(lacking.ConfigFiles).PasswordMatches("ctrlable", "pw").Should().BeTrue("the default owner");
    }

    [Theory]
    [InlineData(new[] { "--write-base-backup" }, "pw\n", 2, "usage: --write-base-backup FILE")]
    [InlineData(new[] { "--write-base-backup", "x.tar", "--without", "zwave" }, "pw\n", 2, "usage: --write-base-backup FILE")]
    [InlineData(new[] { "--write-base-backup", "x.tar", "--admin" }, "pw\n", 2, "usage: --write-base-backup FILE")]
    [InlineData(new[] { "--write-base-backup", "x.tar" }, "", 2, "write-base-backup: give the owner's password as the first line of standard input")]
    [InlineData(new[] { "--write-base-backup", "no-such-directory/x.tar" }, "pw\n", 1, "write-base-backup: ")]
    public async Task Bad_usage_or_an_unwritable_file_is_refused_with_a_message_and_writes_nothing(string[] args, string stdin, int expected, string message)
    {
        var inDir = args.Select((a, i) => i == 1 ? Path.Combine(_dir, a) : a).ToArray();

        var (exit, output, error) = await RunAsync(inDir, stdin);

        exit.Should().Be(expected);
        error.Should().StartWith(message);
        output.Should().BeEmpty();
        Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories).Should().BeEmpty();
    }

    /// <summary>What <c>StandaloneServer.Main</c> runs for <c>--write-base-backup</c>, with strings for the console's streams.</summary>
    private static async Task<(int Exit, string Output, string Error)> RunAsync(string[] args, string stdin)
    {
        var input = new StringReader(stdin);
        var output = new StringWriter();
        var error = new StringWriter();
        args[0].Should().Be(BaseBackupCommand.Switch);
        var exit = await BaseBackupCommand.RunAsync(args[1..], input, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}
