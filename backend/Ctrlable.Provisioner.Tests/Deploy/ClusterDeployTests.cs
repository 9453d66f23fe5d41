using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Seeding;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// Placement in a two-node cluster (SPEC §7c "Placement"): a project's guests go to the site's node through a clone with
/// <c>target</c> when the template's storage is shared, else to the online node with the most free memory that can
/// receive the clone; a template on local storage cannot be cloned to another node, which fails the instance with the
/// reason and creates nothing. A guest Proxmox moved is followed by its VMID; a node off the network shows as offline on
/// the dashboard with its guests unknown. Another admin's guests stay untouched.
/// </summary>
public sealed class ClusterDeployTests
{
    [Fact]
    public async Task A_guest_goes_to_the_sites_node_through_a_clone_with_target_from_shared_storage()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(nodes: ["pve1", "pve2"], foreignGuests: true, bootBehaviour: boot);
        ShareTemplateStorage(pve);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var (run, client, project) = await StartAsync(pve, boot, "Pinned", node: "pve2");
        await using var _ = run;

        var instance = await DeployOneAsync(client, project);

        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        instance.GetProperty("node").GetString().Should().Be("pve2");
        var vmid = instance.GetProperty("vmid").GetInt32();
        pve.Sim.State.Guest(vmid)!.Node.Should().Be("pve2");
        pve.Sim.TaskLog.Should().ContainSingle(t => t.Type == "vzclone").Which.Node.Should().Be("pve1", "the clone runs on the template's node");
        foreign.ShouldBeUntouched(pve.Sim);
    }

    [Fact]
    public async Task Without_a_node_the_guest_goes_to_the_online_node_with_the_most_free_memory_that_reaches_the_template()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(nodes: ["pve1", "pve2", "pve3"], foreignGuests: true, bootBehaviour: boot);
        ShareTemplateStorage(pve);
        lock (pve.Sim.State.Sync)
        {
            pve.Sim.State.Nodes["pve1"].MaxMem = 8L << 30;
            pve.Sim.State.Nodes["pve2"].MaxMem = 64L << 30;
            pve.Sim.State.Nodes["pve3"].MaxMem = 128L << 30;
        }

        // pve3 has the most memory but is off the network: the next one is chosen.
        pve.Sim.SetNodeOnline("pve3", online: false);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var (run, client, project) = await StartAsync(pve, boot, "Roomy", node: null);
        await using var _ = run;

        var instance = await DeployOneAsync(client, project);

        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        instance.GetProperty("node").GetString().Should().Be("pve2");
        pve.Sim.State.Guest(instance.GetProperty("vmid").GetInt32())!.Node.Should().Be("pve2");
        foreign.ShouldBeUntouched(pve.Sim);
    }

    [Fact]
    public async Task A_template_on_local_storage_is_cloned_on_its_own_node_and_a_site_pinned_elsewhere_is_told_why()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(nodes: ["pve1", "pve2"], foreignGuests: true, bootBehaviour: boot);
        lock (pve.Sim.State.Sync)
        {
            pve.Sim.State.Nodes["pve1"].MaxMem = 8L << 30;
        }

        var foreign = ForeignGuests.Capture(pve.Sim);
        var (run, client, project) = await StartAsync(pve, boot, "Local", node: null);
        await using var _ = run;

        // pve2 has more free memory, but cannot receive a clone of a template on pve1's local-lvm.
        var automatic = await DeployOneAsync(client, project);
        automatic.GetProperty("state").GetString().Should().Be("active", automatic.GetProperty("error").ToString());
        automatic.GetProperty("node").GetString().Should().Be("pve1");

        var pinned = await CreateProjectAsync(client, "Elsewhere", "pve2");
        var refused = await DeployOneAsync(client, pinned);
        refused.GetProperty("state").GetString().Should().Be("failed");
        refused.GetProperty("error").GetString().Should().Contain("storage local-lvm of node pve1, which is not shared with node pve2")
            .And.Contain("Proxmox clones to another node only from shared storage");
        pve.Sim.TaskLog.Count(t => t.Type == "vzclone").Should().Be(1, "nothing was cloned for the refused instance");
        foreign.ShouldBeUntouched(pve.Sim);
    }

    [Fact]
    public async Task A_guest_Proxmox_moved_is_followed_by_its_vmid_and_its_actions_work_where_it_is_now()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(nodes: ["pve1", "pve2"], foreignGuests: true, bootBehaviour: boot);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var (run, client, project) = await StartAsync(pve, boot, "Moved", node: null);
        await using var _ = run;
        var instance = await DeployOneAsync(client, project);
        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        instance.GetProperty("node").GetString().Should().Be("pve1");
        var (id, vmid) = (instance.GetProperty("id").GetInt64(), instance.GetProperty("vmid").GetInt32());

        // An admin migrates the running container (a restart migration) to pve2.
        var (outcome, upid) = pve.Sim.Migrate(vmid, "pve2");
        outcome.Should().Be(Ctrlable.PveSim.Cluster.MigrationStart.Started);
        (await pve.Sim.Tasks.WaitAsync(upid!)).ExitStatus.Should().Be("OK");

        (await client.PostAsync($"/api/instances/{id}/stop", null)).StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
        pve.Sim.State.Guest(vmid)!.Running.Should().BeFalse();
        (await client.PostAsync($"/api/instances/{id}/start", null)).StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
        pve.Sim.State.Guest(vmid)!.Running.Should().BeTrue();
        pve.Sim.State.Guest(vmid)!.Node.Should().Be("pve2");

        var after = (await client.GetFromJsonAsync<JsonElement>($"/api/instances/{id}"));
        after.GetProperty("node").GetString().Should().Be("pve2", "the instance follows its guest");
        after.GetProperty("vmid").GetInt32().Should().Be(vmid);
        pve.Sim.State.Access.Pools["ctrlable"].Vms.Except(ForeignGuests.Vmids).Should().Equal([vmid], "the guest was followed, not cloned again");
        foreign.ShouldBeUntouched(pve.Sim);
    }

    [Fact]
    public async Task A_node_off_the_network_shows_offline_on_the_dashboard_with_its_guests_unknown_and_nothing_else_fails()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(nodes: ["pve1", "pve2"], foreignGuests: true, bootBehaviour: boot);
        ShareTemplateStorage(pve);
        var (run, client, project) = await StartAsync(pve, boot, "Offline", node: "pve2");
        await using var _ = run;
        var instance = await DeployOneAsync(client, project);
        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        var vmid = instance.GetProperty("vmid").GetInt32();

        pve.Sim.SetNodeOnline("pve2", online: false);
        JsonElement dashboard = default;
        await Eventually.TrueAsync(async () =>
        {
            dashboard = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");
            return dashboard.GetProperty("nodes").EnumerateArray().Any(n => n.GetProperty("node").GetString() == "pve2" && n.GetProperty("status").GetString() == "offline");
        }, "the dashboard shows pve2 offline");

        dashboard.GetProperty("stale").GetBoolean().Should().BeFalse("the other node answers: the snapshot is current");
        dashboard.GetProperty("nodes").EnumerateArray().Single(n => n.GetProperty("node").GetString() == "pve1").GetProperty("status").GetString().Should().Be("online");
        var card = dashboard.GetProperty("projects").EnumerateArray().Single(p => p.GetProperty("projectId").GetInt64() == project)
            .GetProperty("guests").EnumerateArray().Single();
        card.GetProperty("vmid").GetInt32().Should().Be(vmid);
        card.GetProperty("node").GetString().Should().Be("pve2");
        card.GetProperty("status").GetString().Should().Be("unknown");
    }

    /// <summary>Puts the LXC template's volume on a shared rbd storage the product's token may use, as a cluster with Ceph has it.</summary>
    private static void ShareTemplateStorage(ProxmoxHarness pve)
    {
        pve.Sim.State.AddStorage("ceph", "rbd", "rootdir,images", shared: true);
        lock (pve.Sim.State.Sync)
        {
            var template = pve.Sim.State.Guest(ProxmoxHarness.LxcTemplate)!;
            template.Config["rootfs"] = template.Config["rootfs"].Replace("local-lvm:", "ceph:", StringComparison.Ordinal);
            foreach (var subject in new[] { AclSubject.User("ctrlable@pve"), AclSubject.Token("ctrlable@pve!provisioner") })
            {
                pve.Sim.State.Access.SetAcl("/storage/ceph", subject, LeastPrivilege.RoleId);
            }
        }
    }

    private static async Task<(DeployResilienceTests.Run Run, HttpClient Client, long Project)> StartAsync(ProxmoxHarness pve, DeferredBootBehaviour boot, string name, string? node)
    {
        var data = TempDirectory.Create("placement");
        var run = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, TestPorts.Free());
        var client = await run.App.CreateClientAsync(Role.Operator);
        return (run, client, await CreateProjectAsync(client, name, node));
    }

    internal static async Task<long> CreateProjectAsync(HttpClient client, string name, string? node)
    {
        var response = await client.PostAsJsonAsync("/api/projects", new { name, settings = new { zigbee = new { host = "192.168.1.50" }, zwave = new { host = "192.168.1.51", port = 3333 }, node } });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static async Task<JsonElement> DeployOneAsync(HttpClient client, long project)
    {
        (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
        return (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();
    }
}
