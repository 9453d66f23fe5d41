using System.Net;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Tests;

/// <summary>/config on the VM's disk outlives the emulator process, as it outlives a real VM's power cycles.</summary>
public sealed class DiskTests
{
    [Fact]
    public async Task An_onboarded_instance_comes_back_onboarded_from_its_disk_without_the_landing_page()
    {
        var disk = Path.Combine(Path.GetTempPath(), $"hasim-disk-{Guid.NewGuid():N}");
        try
        {
            var options = RestoreFlowTests.Fast() with { DiskDirectory = disk, LandingDuration = TimeSpan.FromSeconds(30) };
            string uuid;
            await using (var first = await HaSimulator.StartAsync(options with { LandingDuration = TimeSpan.FromMilliseconds(100) }))
            {
                await first.WaitForPhaseAsync(HaPhase.Running);
                using var client = new HaTestClient(first);
                var owner = await client.PostAsync("api/onboarding/users", new { client_id = client.ClientId, name = "Owner", username = "owner", password = "pw", language = "en" });
                owner.Status.Should().Be(HttpStatusCode.OK);
                uuid = first.State.CoreUuid!;
            }

            File.Exists(Path.Combine(disk, "config.json")).Should().BeTrue();
            // The long landing duration would show if Core had to be downloaded again.
            await using var second = await HaSimulator.StartAsync(options);
            await second.WaitForPhaseAsync(HaPhase.Running, TimeSpan.FromSeconds(10));
            second.State.CoreUuid.Should().Be(uuid);
            second.State.PasswordMatches("owner", "pw").Should().BeTrue();
            using var again = new HaTestClient(second);
            (await again.PostAsync("api/onboarding/users", new { client_id = again.ClientId, name = "O", username = "o2", password = "pw", language = "en" }))
                .Status.Should().Be(HttpStatusCode.Forbidden, "the owner exists: onboarding's user step is done");
        }
        finally
        {
            if (Directory.Exists(disk))
            {
                Directory.Delete(disk, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_landing_page_alone_leaves_nothing_on_the_disk()
    {
        var disk = Path.Combine(Path.GetTempPath(), $"hasim-disk-{Guid.NewGuid():N}");
        await using (var sim = await HaSimulator.StartAsync(RestoreFlowTests.Fast() with { DiskDirectory = disk, LandingDuration = TimeSpan.FromSeconds(30) }))
        {
            await sim.WaitForPhaseAsync(HaPhase.Landing);
        }

        Directory.Exists(disk).Should().BeFalse("Core never ran, so it is not installed");
    }
}
