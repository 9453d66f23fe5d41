using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Build;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// A partly built active release: deploys of what it has work, deploys that include a component it lacks are refused
/// naming each missing one with the reason its build gave, and nothing is created by a refused deploy.
/// </summary>
public sealed class DeployAvailabilityTests
{
    [Fact]
    public async Task A_deploy_needing_a_component_the_active_release_lacks_is_409_naming_it_and_the_rest_deploys()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var releasesDirectory = ActivationManifest.CreateReleasesDirectory();
        try
        {
            using var app = new ProvisionerApp(releasesDirectory, ProvisionerApp.ProxmoxSettings(pve));
            using var client = await app.CreateClientAsync(Role.Operator);
            var failedBuild = await PartlyBuiltAsync(app);
            var project = await DeployApiTests.CreateProjectAsync(client, "Partial");
            var reason = $"build {failedBuild} failed: ct/docker.sh failed with exit code 1 (see the log)";

            // Every component (the default): refused, naming the missing one and why.
            var all = await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { });
            var problem = await ProblemAsync(all, HttpStatusCode.Conflict);
            problem.GetProperty("code").GetString().Should().Be("components-unavailable");
            problem.GetProperty("release").GetString().Should().Be(BuildHost.Release);
            Missing(problem).Should().Equal(("docker-portainer", reason));
            problem.GetProperty("detail").GetString().Should().Contain($"docker-portainer ({reason})");

            // Naming it among others: the same; naming a component no release has: 400 as before.
            Missing(await ProblemAsync(await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "zwavejs", "docker-portainer" } }), HttpStatusCode.Conflict))
                .Should().Equal(("docker-portainer", reason));
            (await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "frigate" } })).StatusCode.Should().Be(HttpStatusCode.BadRequest);

            // Adding one instance of it: refused the same way.
            Missing(await ProblemAsync(await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "docker-portainer" }), HttpStatusCode.Conflict))
                .Should().Equal(("docker-portainer", reason));
            (await app.Service<InstanceRepository>().ListByProjectAsync(project, includeDeleted: true, CancellationToken.None)).Should().BeEmpty("a refused deploy creates nothing");

            // What the release has deploys.
            var rest = await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "zwavejs" } });
            rest.StatusCode.Should().Be(HttpStatusCode.Accepted, await rest.Content.ReadAsStringAsync());
            var deploy = await rest.Content.ReadFromJsonAsync<JsonElement>();
            deploy.GetProperty("release").GetString().Should().Be(BuildHost.Release);
            deploy.GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("type").GetString()).Should().Equal("zwavejs");
        }
        finally
        {
            TempDirectory.TryDelete(releasesDirectory);
        }
    }

    /// <summary>
    /// The release as a build leaves it when docker-portainer failed: ctrlable-pro and zwavejs recorded (at the
    /// emulator's template VMIDs) and active, the failed build in the history. Returns that build's id.
    /// </summary>
    internal static async Task<long> PartlyBuiltAsync(ProvisionerApp app)
    {
        var now = DateTimeOffset.UtcNow;
        var builds = app.Service<BuildRepository>();
        var id = await builds.CreateAsync(BuildHost.Release, "root@host:22", "tester", false, BuildHost.Ref, BuildTickets.Hash(BuildTickets.New()), now.AddHours(1),
            [], now, CancellationToken.None);
        await builds.FinishAsync(id, BuildState.Failed, "1 of 3 template(s) failed", 2,
        [
            new BuildTemplateProgress("ctrlable-pro", "vm", 9100, BuildTemplateState.Built, 10, 10, "Done", null, "15.1"),
            new BuildTemplateProgress("zwavejs", "lxc", 9101, BuildTemplateState.Built, 6, 6, "Done", null, "v9.27.2"),
            new BuildTemplateProgress("docker-portainer", "lxc", 9103, BuildTemplateState.Failed, 3, 6, "Running ct/docker.sh", "ct/docker.sh failed with exit code 1 (see the log)", null),
        ], now);
        await app.Service<ReleaseRepository>().ActivateAsync(BuildHost.Release, BuildHost.Ref, ActivationManifest.Commit,
        [
            new TemplateRow(0, BuildHost.Release, "ctrlable-pro", "vm", ProxmoxHarness.QemuTemplate, "pve1", BuildHost.Ref, ActivationManifest.Commit, "15.1", now),
            new TemplateRow(0, BuildHost.Release, "zwavejs", "lxc", ProxmoxHarness.LxcTemplate, "pve1", BuildHost.Ref, ActivationManifest.Commit, "v9.27.2", now),
        ], now, CancellationToken.None);
        return id;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        response.StatusCode.Should().Be(status, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static List<(string?, string?)> Missing(JsonElement problem) =>
        [.. problem.GetProperty("missing").EnumerateArray().Select(m => (m.GetProperty("type").GetString(), m.GetProperty("reason").GetString()))];
}
