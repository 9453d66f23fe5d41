using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// Clones of one LXC template run one at a time (Proxmox locks the template while it is cloned): a clone queued behind
/// another has its plan and VMID ready, and its request leaves once the watcher sees the one before it ended — no plan
/// again, no look at the cluster or VMID check in between. Counted, never timed.
/// </summary>
public sealed class TemplateHandoffTests
{
    [Fact]
    public async Task A_clone_queued_on_a_template_is_requested_right_after_the_clone_before_it_is_seen_ended_without_another_read()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(foreignGuests: true, bootBehaviour: boot);
        var foreign = ForeignGuests.Capture(pve.Sim);
        // The first clone of the template runs until released; the second one is not held.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var clones = 0;
        pve.Sim.Tasks.Gate = task => task.Upid.Type == "vzclone" && Interlocked.Increment(ref clones) == 1 ? release.Task : Task.CompletedTask;
        var calls = new ConcurrentQueue<(string Method, string Path, string Query)>();
        pve.Sim.Intercept = async (call, next) =>
        {
            calls.Enqueue((call.Method, call.Path, call.Query));
            await next();
        };

        var data = TempDirectory.Create("handoff");
        await using var run = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, TestPorts.Free());
        using var client = await run.App.CreateClientAsync(Role.Operator);
        var projects = new[] { await ClusterDeployTests.CreateProjectAsync(client, "First", node: null), await ClusterDeployTests.CreateProjectAsync(client, "Second", node: null) };
        foreach (var project in projects)
        {
            (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
        }

        // The second instance waits for the template with its VMID reserved while the first clone runs.
        await Eventually.TrueAsync(async () => (await InstancesAsync(client, projects)).Any(i => i.GetProperty("state").GetString() == "pending"
            && i.GetProperty("message").GetString()!.Contains("Waiting for the template", StringComparison.Ordinal) && i.TryGetProperty("vmid", out var v) && v.ValueKind == JsonValueKind.Number),
            "the second clone waits for the template");
        await Eventually.TrueAsync(() => calls.Any(IsTaskLook), "the first clone's task is watched");
        var before = calls.Count;
        release.SetResult();

        var instances = await DeployApiTests.WaitForAsync(client, projects[0], i => i.GetProperty("state").GetString() is "active" or "failed");
        var second = await DeployApiTests.WaitForAsync(client, projects[1], i => i.GetProperty("state").GetString() is "active" or "failed");
        instances.Concat(second).Should().OnlyContain(i => i.GetProperty("state").GetString() == "active");

        var after = calls.Skip(before).ToList();
        var secondClone = after.FindIndex(c => c.Method == "POST" && c.Path.EndsWith("/clone", StringComparison.Ordinal));
        secondClone.Should().BeGreaterThan(0, "the second clone is requested after the first ended");
        var between = after.Take(secondClone).ToList();
        between.Should().Contain(c => IsTaskLook(c), "the watcher's look saw the first clone end");
        // The first instance goes on configuring its guest meanwhile (its first MAC address reads every guest's config, from
        // a ?type=vm list); the queued clone itself plans nothing again: no look at the cluster for a plan, no VMID check.
        between.Should().NotContain(c => (c.Path == "/cluster/resources" && !c.Query.Contains("type=vm", StringComparison.Ordinal)) || c.Path == "/cluster/nextid",
            "the queued clone's plan and VMID were ready before its turn");
        pve.Sim.TaskLog.Where(t => t.Type == "vzclone").Should().HaveCount(2);
        foreign.ShouldBeUntouched(pve.Sim);
    }

    private static bool IsTaskLook((string Method, string Path, string Query) call) =>
        call.Method == "GET" && call.Path.Contains("/tasks", StringComparison.Ordinal) && !call.Path.EndsWith("/log", StringComparison.Ordinal);

    private static async Task<List<JsonElement>> InstancesAsync(HttpClient client, IEnumerable<long> projects)
    {
        var all = new List<JsonElement>();
        foreach (var project in projects)
        {
            all.AddRange((await client.GetFromJsonAsync<JsonElement>($"/api/projects/{project}")).GetProperty("instances").EnumerateArray());
        }

        return all;
    }
}
