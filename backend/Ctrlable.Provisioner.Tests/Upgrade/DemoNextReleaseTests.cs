using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Upgrade;

/// <summary>
/// Demo mode records a newer release found in the releases directory at start as built (no build in the demo), so an
/// upgrade can be tried there (the browser test upgrade.test.mjs): its templates seeded where their VMIDs are free, its
/// base backup generated, and it becomes the active release.
/// </summary>
public sealed class DemoNextReleaseTests
{
    [Fact]
    public async Task Demo_mode_records_a_newer_release_added_to_the_releases_directory_as_built_at_its_next_start()
    {
        var releasesDirectory = TempDirectory.Create("demo-next-releases");
        var data = TempDirectory.Create("demo-next-data");
        try
        {
            var from = Path.Combine(releasesDirectory, $"{UpgradeSite.From}.yaml");
            File.Copy(Path.Combine(RepoPaths.Releases, $"{UpgradeSite.From}.yaml"), from);
            using (var first = new ProvisionerApp(releasesDirectory, DeployApiTests.FastDemo(), dataDirectory: data))
            {
                await first.EnsureSetUpAsync();
                (await first.Service<ReleaseRepository>().GetActiveNameAsync()).Should().Be(UpgradeSite.From);
            }

            // The next release: a newer Z-Wave JS UI, and zigbee2mqtt's template at a VMID the emulator does not have yet.
            var yaml = (await File.ReadAllTextAsync(from))
                .Replace($"release: \"{UpgradeSite.From}\"", $"release: \"{UpgradeSite.To}\"", StringComparison.Ordinal)
                .Replace("app_version: \"11.19.0\"", $"app_version: \"{UpgradeSite.ZwaveJsVersion}\"", StringComparison.Ordinal)
                .Replace("vmid: 9002", "vmid: 9102", StringComparison.Ordinal)
                .Replace($"ctrlable-base-{UpgradeSite.From}.tar", $"ctrlable-base-{UpgradeSite.To}.tar", StringComparison.Ordinal);
            await File.WriteAllTextAsync(Path.Combine(releasesDirectory, $"{UpgradeSite.To}.yaml"), yaml);

            using var second = new ProvisionerApp(releasesDirectory, DeployApiTests.FastDemo(), dataDirectory: data);
            await second.EnsureSetUpAsync();
            var releases = second.Service<ReleaseRepository>();
            (await releases.GetActiveNameAsync()).Should().Be(UpgradeSite.To);
            var templates = await releases.ListTemplatesAsync(UpgradeSite.To);
            templates.Single(t => t.Name == "zwavejs").AppVersion.Should().Be(UpgradeSite.ZwaveJsVersion);
            templates.Single(t => t.Name == "zigbee2mqtt").Vmid.Should().Be(9102);
            (await releases.ListTemplatesAsync(UpgradeSite.From)).Should().NotBeEmpty("the older release's templates stay recorded");
            (await second.Service<BaseBackupStore>().GetAsync(UpgradeSite.To, CancellationToken.None)).Should().NotBeNull("Home Assistant's upgrade needs the release's Core version");

            var sim = second.Service<SimulatedProxmoxHost>().Simulator;
            lock (sim.State.Sync)
            {
                sim.State.Guest(9102).Should().NotBeNull("the new template's VMID was free");
                sim.State.Guest(9102)!.IsTemplate.Should().BeTrue();
                sim.State.Guest(9002)!.IsTemplate.Should().BeTrue("the older release's template is left as it was");
            }
        }
        finally
        {
            TempDirectory.TryDelete(releasesDirectory);
            TempDirectory.TryDelete(data);
        }
    }
}
