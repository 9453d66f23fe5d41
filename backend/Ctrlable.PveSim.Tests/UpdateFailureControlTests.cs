using System.Net;
using System.Net.Http.Json;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>The emulator's control that makes a guest's update routine fail (what browser tests force a rollback with).</summary>
public sealed class UpdateFailureControlTests
{
    [Fact]
    public async Task The_update_failure_control_sets_and_clears_the_failure_through_the_boot_behaviour_and_refuses_what_it_cannot_do()
    {
        var boot = new RecordingUpdateFaults();
        var (sim, _) = await Sims.Start(scale: 0.02, boot: boot);
        await using var _ = sim;
        using var admin = sim.CreateClient();
        Uri Control(int vmid) => new(sim.BaseAddress, $"/_sim/guests/{vmid}/update-failure");

        var set = await admin.PutAsJsonAsync(Control(180), new { message = "E: Unable to fetch some archives" });
        set.StatusCode.Should().Be(HttpStatusCode.OK);
        boot.Failures.Should().Equal(new Dictionary<int, string?> { [180] = "E: Unable to fetch some archives" });

        (await admin.DeleteAsync(Control(180))).StatusCode.Should().Be(HttpStatusCode.OK);
        boot.Failures[180].Should().BeNull();

        (await admin.PutAsJsonAsync(Control(180), new { message = " " })).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await admin.PutAsJsonAsync(Control(999), new { message = "x" })).StatusCode.Should().Be(HttpStatusCode.NotFound, "guest 999 has no update routine");
    }

    [Fact]
    public async Task Without_an_update_routine_in_the_boot_behaviour_the_control_answers_404()
    {
        var (sim, _) = await Sims.Start(scale: 0.02);
        await using var _ = sim;
        using var admin = sim.CreateClient();
        (await admin.PutAsJsonAsync(new Uri(sim.BaseAddress, "/_sim/guests/180/update-failure"), new { message = "x" }))
            .StatusCode.Should().Be(HttpStatusCode.NotFound, "the default boot behaviour has no update routine");
    }

    private sealed class RecordingUpdateFaults : IGuestBootBehaviour, IGuestUpdateFaults
    {
        public Dictionary<int, string?> Failures { get; } = [];

        public Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken) => Task.CompletedTask;

        public bool FailUpdates(int vmid, string? message)
        {
            if (vmid == 999)
            {
                return false;
            }

            Failures[vmid] = message;
            return true;
        }
    }
}
