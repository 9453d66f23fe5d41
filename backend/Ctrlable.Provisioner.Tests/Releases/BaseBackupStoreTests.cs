using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.Configuration;

namespace Ctrlable.Provisioner.Tests.Releases;

public sealed class BaseBackupStoreTests
{
    private static readonly HaBaseCredentials Credentials = new("ctrlable", "base-admin-secret-pw");

    [Fact]
    public async Task A_stored_base_backup_comes_back_verified_with_its_credentials_which_are_stored_encrypted()
    {
        using var app = new ProvisionerApp();
        await app.EnsureSetUpAsync();
        var store = app.Service<BaseBackupStore>();
        var tar = HaBaseBackup.Create(new HaBaseBackupSpec(Credentials.Username, Credentials.Password));
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tar));

        var stored = await store.StoreAsync("2030.01", "ctrlable-base-2030.01.tar", new MemoryStream(tar), Credentials, sha, CancellationToken.None);
        var read = await store.GetAsync("2030.01", CancellationToken.None);

        read.Should().NotBeNull();
        read!.Sha256.Should().Be(sha).And.Be(stored.Sha256);
        read.Credentials.Should().Be(Credentials);
        (await File.ReadAllBytesAsync(read.Path)).Should().Equal(tar);
        read.Credentials.ToString().Should().NotContain(Credentials.Password);
        await using var connection = await app.Service<Database>().OpenAsync();
        var raw = await connection.QuerySingleAsync<string>("SELECT protected_value FROM secrets WHERE kind = 'HaBaseCredentials' AND name = 'release/2030.01';");
        raw.Should().NotContain(Credentials.Password);
        (await store.GetAsync("2099.01", CancellationToken.None)).Should().BeNull();
    }

    [Fact]
    public async Task A_checksum_that_does_not_match_the_manifest_keeps_nothing_and_an_altered_file_is_refused()
    {
        using var app = new ProvisionerApp();
        await app.EnsureSetUpAsync();
        var store = app.Service<BaseBackupStore>();
        var tar = HaBaseBackup.Create(new HaBaseBackupSpec(Credentials.Username, Credentials.Password));

        var mismatch = () => store.StoreAsync("2030.01", "base.tar", new MemoryStream(tar), Credentials, new string('0', 64), CancellationToken.None);
        (await mismatch.Should().ThrowAsync<BaseBackupException>()).Which.Message.Should().Contain("the manifest expects");
        (await store.GetAsync("2030.01", CancellationToken.None)).Should().BeNull();

        var stored = await store.StoreAsync("2030.01", "base.tar", new MemoryStream(tar), Credentials, null, CancellationToken.None);
        await File.AppendAllTextAsync(stored.Path, "tampered");
        (await FluentActions.Awaiting(() => store.GetAsync("2030.01", CancellationToken.None)).Should().ThrowAsync<BaseBackupException>())
            .Which.Message.Should().Contain("recorded");
        await FluentActions.Awaiting(() => store.StoreAsync("../x", "base.tar", new MemoryStream(tar), Credentials, null, CancellationToken.None))
            .Should().ThrowAsync<BaseBackupException>();
    }

    [Fact]
    public async Task Demo_mode_generates_the_releases_base_backup_and_points_the_home_assistant_ports_at_the_emulator()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo());
        await app.EnsureSetUpAsync();

        var backup = await app.Service<BaseBackupStore>().GetAsync("2026.06", CancellationToken.None);
        backup.Should().NotBeNull();
        backup!.FileName.Should().Be("ctrlable-base-2026.06.tar");
        var config = HaConfig.FromFiles(HaBackup.Read(await File.ReadAllBytesAsync(backup.Path), null).ConfigFiles);
        config.Owner.Should().NotBeNull();
        config.PasswordMatches(backup.Credentials.Username, backup.Credentials.Password).Should().BeTrue();

        var ports = app.Service<IConfiguration>().GetSection(SimulatedProxmoxHost.HomeAssistantPortsKey).Get<int[]>();
        var sim = app.Service<SimulatedProxmoxHost>().Simulator;
        ports.Should().Equal(sim.HomeAssistantPorts!.Value.LegacyPort, sim.HomeAssistantPorts.Value.HttpPort);
        lock (sim.State.Sync)
        {
            sim.State.Guests[9000].Tags.Should().Contain(Ctrlable.PveSim.Guests.HomeAssistantMarker.Tag);
        }
    }
}
