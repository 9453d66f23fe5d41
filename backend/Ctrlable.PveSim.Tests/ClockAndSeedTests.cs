using System.Net;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.PveSim.Tests;

/// <summary>Durations follow the TimeProvider; the example seed file of the standalone server applies.</summary>
public sealed class ClockAndSeedTests
{
    [Fact]
    public async Task Task_durations_run_on_the_given_time_provider()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (sim, api) = await StartWith(time);
        await using var _ = sim;
        var clone = await api.Post($"nodes/pve1/qemu/{Sims.QemuTemplate}/clone", ("newid", "150"), ("full", "1"));
        clone.Status.Should().Be(HttpStatusCode.OK, clone.ToString());
        var task = sim.Tasks.Find(clone.Upid)!;
        await Task.Delay(50);
        task.Running.Should().BeTrue("a 66 s full clone has not finished while time stands still");

        time.Advance(TimeSpan.FromSeconds(65));
        await Task.Delay(50);
        task.Running.Should().BeTrue();
        time.Advance(TimeSpan.FromSeconds(2));
        var record = await sim.Tasks.WaitAsync(clone.Upid).WaitAsync(TimeSpan.FromSeconds(5));
        record.ExitStatus.Should().Be("OK");
        (record.Ended!.Value - record.Started).Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(66));
    }

    [Fact]
    public async Task The_example_seed_file_applies()
    {
        var file = Path.Combine(AppContext.BaseDirectory, "../../../../Ctrlable.PveSim/seed.example.json");
        var cli = CommandLine.Parse(["--seed", file, "--port", "0"])!;
        await using var sim = await PveSimulator.StartAsync(cli.Simulator with { TimingScale = 0.01, Nodes = ["pve1"] });
        var token = new ApiTokenCredentials("ctrlable@pve!provisioner", "5f1c2b7e-0d2a-4f51-9a53-3f0c9e2b7a11");
        using var api = Sims.Client(sim, token);
        (await api.RunTask(api.Post("nodes/pve1/lxc/9001/clone", ("newid", "150"), ("pool", "ctrlable"))))["exitstatus"]!
            .GetValue<string>().Should().Be("OK");
        (await api.Post("nodes/pve1/lxc/500/status/stop")).Status.Should().Be(HttpStatusCode.Forbidden);
        (await api.Get("nodes/pve1/storage")).Data!.AsArray().Should().ContainSingle();
    }

    private static async Task<(PveSimulator, ApiClient)> StartWith(TimeProvider time)
    {
        var sim = await PveSimulator.StartAsync(new PveSimOptions
        {
            Nodes = ["pve1"],
            TimeProvider = time,
            Seed = new Seeding.SeedSpec
            {
                Users = [new Seeding.UserSeed("root@pam", [new Seeding.TokenSeed("admin", Privsep: false)])],
                Templates = [new Seeding.TemplateSeed(Sims.QemuTemplate, "haos", Guests.GuestKind.Qemu, DiskGiB: 32)],
            },
        });
        return (sim, Sims.Client(sim, Sims.AdminToken(sim)));
    }
}
