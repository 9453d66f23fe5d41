using System.Net;
using Ctrlable.HaSim.State;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

public sealed class HomeAssistantGuestTests
{
    private const int HaosTemplate = 9100;

    [Fact]
    public async Task A_clone_of_the_haos_template_runs_home_assistant_on_the_address_its_agent_reports()
    {
        var (sim, api) = await Sims.Start(scale: 0.05);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(HaosTemplate, "ctrlable-pro", GuestKind.Qemu, DiskGiB: 32) { Tags = ["ctrlable", HomeAssistantMarker.Tag] });
        var (legacy, http80) = sim.HomeAssistantPorts!.Value;

        await api.RunTask(api.Post($"nodes/pve1/qemu/{HaosTemplate}/clone", ("newid", "170"), ("name", "site-ha")));
        await api.RunTask(api.Post("nodes/pve1/qemu/170/status/start"));
        var interfaces = await WaitForAgentAsync(api, 170);

        var names = interfaces.Select(i => i!["name"]!.GetValue<string>()).ToList();
        names.Should().Contain(["lo", "enp0s18", "hassio", "docker0"]).And.Contain(n => n.StartsWith("veth"));
        var address = interfaces.Single(i => i!["name"]!.GetValue<string>() == "enp0s18")!["ip-addresses"]![0]!["ip-address"]!.GetValue<string>();
        var ha = await Until.Value(() => sim.HomeAssistant(170), "VM 170's Home Assistant booted");
        ha.Options.Address.Should().Be(address);
        ha.Ports.Should().Equal(legacy, http80);

        await ha.WaitForPhaseAsync(HaPhase.Running);
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        (await client.GetAsync($"http://{address}:{legacy}/api/onboarding")).StatusCode.Should().Be(HttpStatusCode.OK);

        // Stopping the VM drops Home Assistant; starting it again brings the same instance (its /config) back.
        var uuid = ha.State.CoreUuid;
        await api.RunTask(api.Post("nodes/pve1/qemu/170/status/stop"));
        await ha.WaitForPhaseAsync(HaPhase.Down);
        await FluentActions.Awaiting(() => client.GetAsync($"http://{address}:{legacy}/api/onboarding")).Should().ThrowAsync<HttpRequestException>();
        await api.RunTask(api.Post("nodes/pve1/qemu/170/status/start"));
        await ha.WaitForPhaseAsync(HaPhase.Running);
        ha.State.CoreUuid.Should().Be(uuid);
        ha.State.Boots.Should().Be(2);

        await api.RunTask(api.Post("nodes/pve1/qemu/170/status/stop"));
        await api.RunTask(api.Delete("nodes/pve1/qemu/170"));
        sim.HomeAssistant(170).Should().BeNull();
    }

    [Fact]
    public async Task Core_stays_on_the_disk_after_the_first_boot_so_clones_of_a_template_booted_once_skip_the_landing_phase()
    {
        var (sim, api) = await Sims.Start(scale: 0.05);
        await using var _ = sim;
        // As the HAOS image ships: never booted, so its first boot downloads Core behind the landing page.
        sim.AddGuest(new TemplateSeed(HaosTemplate, "ctrlable-pro", GuestKind.Qemu, DiskGiB: 32) { Tags = ["ctrlable", HomeAssistantMarker.Tag] });
        await api.RunTask(api.Post($"nodes/pve1/qemu/{HaosTemplate}/clone", ("newid", "172"), ("name", "build-boot")));
        await api.RunTask(api.Post("nodes/pve1/qemu/172/status/start"));
        var first = await Until.Value(() => sim.HomeAssistant(172), "VM 172's Home Assistant booted");
        first.Options.LandingDuration.Should().BePositive();
        await first.WaitForPhaseAsync(HaPhase.Running);
        await api.RunTask(api.Post("nodes/pve1/qemu/172/status/shutdown"));

        // The build converts the booted VM to a template; its clones find Core on their disk.
        await api.RunTask(api.Post("nodes/pve1/qemu/172/template"));
        await api.RunTask(api.Post("nodes/pve1/qemu/172/clone", ("newid", "173"), ("name", "site-ha"), ("full", "1")));
        await api.RunTask(api.Post("nodes/pve1/qemu/173/status/start"));
        var clone = await Until.Value(() => sim.HomeAssistant(173), "VM 173's Home Assistant booted");
        clone.Options.LandingDuration.Should().Be(TimeSpan.Zero);
        await clone.WaitForPhaseAsync(HaPhase.Running);

        // A template seeded as built by this product's build (booted once) behaves the same.
        sim.AddGuest(new TemplateSeed(9101, "ctrlable-pro-built", GuestKind.Qemu, DiskGiB: 32) { Tags = ["ctrlable", HomeAssistantMarker.Tag], HomeAssistantCoreOnDisk = true });
        await api.RunTask(api.Post("nodes/pve1/qemu/9101/clone", ("newid", "174"), ("name", "site-ha-2")));
        await api.RunTask(api.Post("nodes/pve1/qemu/174/status/start"));
        (await Until.Value(() => sim.HomeAssistant(174), "VM 174's Home Assistant booted")).Options.LandingDuration.Should().Be(TimeSpan.Zero);
    }

    [Fact]
    public async Task A_restarted_emulator_brings_each_Home_Assistant_back_from_its_disk_and_a_destroy_removes_the_disk()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"pvesim-ha-{Guid.NewGuid():N}");
        var snapshot = Path.Combine(directory, "state.json");
        var disks = Path.Combine(directory, "ha");
        Directory.CreateDirectory(directory);
        try
        {
            const string uuid = "0123456789abcdef0123456789abcdef";
            var (first, api) = await Sims.Start(scale: 0.05, snapshot: snapshot, homeAssistantDisks: disks);
            await using (first)
            {
                first.AddGuest(new TemplateSeed(HaosTemplate, "ctrlable-pro", GuestKind.Qemu, DiskGiB: 32) { Tags = ["ctrlable", HomeAssistantMarker.Tag] });
                await api.RunTask(api.Post($"nodes/pve1/qemu/{HaosTemplate}/clone", ("newid", "175"), ("name", "site-ha")));
                await api.RunTask(api.Post("nodes/pve1/qemu/175/status/start"));
                var ha = await Until.Value(() => first.HomeAssistant(175), "VM 175's Home Assistant booted");
                await ha.WaitForPhaseAsync(HaPhase.Running);
                ha.Edit(config => config.CoreUuid = uuid);
            }

            File.Exists(Path.Combine(disks, "175", "config.json")).Should().BeTrue("the emulator wrote the guest's /config when it stopped");
            var (second, again) = await Sims.Start(scale: 0.05, snapshot: snapshot, homeAssistantDisks: disks);
            await using (second)
            {
                var ha = await Until.Value(() => second.HomeAssistant(175), "VM 175's Home Assistant booted");
                ha.Options.LandingDuration.Should().Be(TimeSpan.Zero, "Core is on the VM's disk");
                await ha.WaitForPhaseAsync(HaPhase.Running);
                ha.State.CoreUuid.Should().Be(uuid);

                await again.RunTask(again.Post("nodes/pve1/qemu/175/status/stop"));
                await again.RunTask(again.Delete("nodes/pve1/qemu/175"));
                await Until.True(() => !Directory.Exists(Path.Combine(disks, "175")), "VM 175's disk is gone");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Other_vms_run_no_home_assistant()
    {
        var (sim, api) = await Sims.Start(scale: 0.05);
        await using var _ = sim;
        await api.RunTask(api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "171")));
        await api.RunTask(api.Post("nodes/pve1/qemu/171/status/start"));
        var interfaces = await WaitForAgentAsync(api, 171);
        interfaces.Select(i => i!["name"]!.GetValue<string>()).Should().NotContain("hassio");
        sim.HomeAssistant(171).Should().BeNull();
    }

    private static Task<System.Text.Json.Nodes.JsonArray> WaitForAgentAsync(ApiClient api, int vmid) =>
        Until.Value(async () => await api.Get($"nodes/pve1/qemu/{vmid}/agent/network-get-interfaces") is { Status: HttpStatusCode.OK } response
            ? response.Data!["result"]!.AsArray()
            : null, $"VM {vmid}'s guest agent answers");
}
