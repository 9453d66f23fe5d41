using System.Net;
using System.Net.Http.Json;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;

namespace Ctrlable.Provisioner.Tests.Provision;

/// <summary>An instance's history has every change of its state, whoever made it: the deploy's steps and the guest's calls.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class InstanceHistoryTests
{
    [Fact]
    public async Task A_deploy_and_its_first_boot_leave_every_step_in_the_history_in_order()
    {
        await using var h = await FirstBootHarness.StartAsync();
        var guest = await h.DeployAsync(TemplateTypes.Frigate);
        using var claim = await h.ClaimAsync(guest);

        var complete = await claim.Client.PostAsJsonAsync("/api/provision/complete", new { hostname = guest.Hostname, status = "ok" });

        complete.StatusCode.Should().Be(HttpStatusCode.NoContent, await complete.Content.ReadAsStringAsync());
        (await h.FinishedAsync(guest)).To.Should().Be(InstanceStates.Active);
        await using var connection = await h.App.Service<Database>().OpenAsync();
        var history = (await connection.QueryAsync<string>(
            "SELECT from_state || '>' || to_state || ' ' || substr(source, 1, 6) FROM instance_state_changes WHERE instance_id = @id ORDER BY id;", new { id = guest.Id })).ToList();
        history.Should().Equal(
            "pending>cloning deploy",
            "cloning>configuring deploy",
            "configuring>starting deploy",
            "starting>waiting deploy",
            "waiting>personalising guest ",
            "personalising>active guest ");
    }
}
