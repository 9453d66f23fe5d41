using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>The emulator as a cluster: a guest answers on its own node only, migration, a node dropping off the network.</summary>
public sealed class ClusterTests
{
    [Fact]
    public async Task A_guest_on_another_node_is_not_found_through_this_nodes_path()
    {
        var (sim, api) = await Sims.Start(nodes: ["pve1", "pve2"]);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(300, "elsewhere", GuestKind.Qemu) { Node = "pve2" }, isTemplate: false);

        // qemu-server's load_config reads the local node's directory: the config is not there.
        var wrong = await api.Get("nodes/pve1/qemu/300/status/current");
        wrong.Status.Should().Be(HttpStatusCode.InternalServerError);
        wrong.Reason.Should().Be("Configuration file 'nodes/pve1/qemu-server/300.conf' does not exist");
        (await api.Get("nodes/pve2/qemu/300/status/current")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Migrating_a_stopped_guest_holds_the_migrate_lock_and_moves_it_to_the_target()
    {
        // Realistic timings: the migration runs long enough (seconds) for the lock to be seen and a change refused on a busy machine.
        var (sim, api) = await Sims.Start(nodes: ["pve1", "pve2"], scale: 1);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(300, "moving", GuestKind.Lxc) { Node = "pve1" }, isTemplate: false);
        sim.AddGuest(new TemplateSeed(301, "foreign", GuestKind.Lxc) { Node = "pve1" }, isTemplate: false);

        var migrate = await api.Post("nodes/pve1/lxc/300/migrate", ("target", "pve2"));
        migrate.Status.Should().Be(HttpStatusCode.OK, migrate.ToString());
        migrate.Upid.Should().Contain(":vzmigrate:300:");
        await Until.True(async () => (await api.Get("nodes/pve1/lxc/300/status/current")).Data!["lock"]?.GetValue<string>() == "migrate", "the migrate lock held");
        (await api.Put("nodes/pve1/lxc/300/config", ("memory", "1024"))).Reason.Should().Be("CT is locked (migrate)");

        (await api.WaitTask(migrate.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve1/lxc/300/status/current")).Status.Should().Be(HttpStatusCode.InternalServerError);
        var moved = await api.Get("nodes/pve2/lxc/300/status/current");
        moved.Data!.AsObject().ContainsKey("lock").Should().BeFalse();
        (await Resource(api, 300))["node"]!.GetValue<string>().Should().Be("pve2");
        (await Resource(api, 301))["node"]!.GetValue<string>().Should().Be("pve1");
    }

    [Fact]
    public async Task Migration_refuses_what_Proxmox_refuses()
    {
        var (sim, api) = await Sims.Start(nodes: ["pve1", "pve2"]);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(300, "ct", GuestKind.Lxc) { Node = "pve1" }, isTemplate: false);
        sim.AddGuest(new TemplateSeed(310, "vm", GuestKind.Qemu) { Node = "pve1" }, isTemplate: false);
        await api.RunTask(api.Post("nodes/pve1/lxc/300/status/start"));
        await api.RunTask(api.Post("nodes/pve1/qemu/310/status/start"));

        var local = await api.Post("nodes/pve1/lxc/300/migrate", ("target", "pve1"));
        local.Status.Should().Be(HttpStatusCode.BadRequest);
        local.Error("target").Should().Be("target is local node.");
        (await api.Post("nodes/pve1/lxc/300/migrate", ("target", "pve9"))).Reason.Should().Be("no such cluster node 'pve9'");
        (await api.Post("nodes/pve1/lxc/300/migrate", ("target", "pve2"))).Reason.Should().Be("can't migrate running container without --online or --restart");
        (await api.Post("nodes/pve1/qemu/310/migrate", ("target", "pve2"))).Reason.Should().Be("can't migrate running VM without --online");
        (await api.Post("nodes/pve2/qemu/310/migrate", ("target", "pve1"))).Reason.Should().Be("Configuration file 'nodes/pve2/qemu-server/310.conf' does not exist");

        // A running VM migrates live and keeps running; a running CT by restart migration.
        (await api.RunTask(api.Post("nodes/pve1/qemu/310/migrate", ("target", "pve2"), ("online", "1"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve2/qemu/310/status/current")).Data!["status"]!.GetValue<string>().Should().Be("running");
        (await api.RunTask(api.Post("nodes/pve1/lxc/300/migrate", ("target", "pve2"), ("restart", "1"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve2/lxc/300/status/current")).Data!["status"]!.GetValue<string>().Should().Be("running");
    }

    [Fact]
    public async Task An_offline_node_answers_595_and_its_guests_read_unknown_while_the_others_answer()
    {
        var (sim, api) = await Sims.Start(nodes: ["pve1", "pve2"]);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(300, "away", GuestKind.Lxc) { Node = "pve2" }, isTemplate: false);
        await api.RunTask(api.Post("nodes/pve2/lxc/300/status/start"));
        await Until.True(async () => (await Resource(api, 300))["status"]?.GetValue<string>() == "running", "the guest listed running");

        sim.SetNodeOnline("pve2", online: false).Should().Be(NodeChange.Changed);
        var refused = await api.Get("nodes/pve2/lxc/300/status/current");
        ((int)refused.Status).Should().Be(595);
        refused.Reason.Should().Be("No route to host");
        var guest = await Resource(api, 300);
        guest["status"]!.GetValue<string>().Should().Be("unknown");
        guest["name"]!.GetValue<string>().Should().Be("away");
        guest.ContainsKey("mem").Should().BeFalse();
        var nodes = (await api.Get("cluster/resources", ("type", "node"))).Data!.AsArray();
        nodes.Single(n => n!["node"]!.GetValue<string>() == "pve2")!["status"]!.GetValue<string>().Should().Be("offline");
        nodes.Single(n => n!["node"]!.GetValue<string>() == "pve1")!["status"]!.GetValue<string>().Should().Be("online");
        (await api.Get($"nodes/pve1/lxc/{Sims.LxcTemplate}/status/current")).Status.Should().Be(HttpStatusCode.OK);

        // Migrating to it fails in the task (the ssh connection), the guest stays.
        var stopped = await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate2}/migrate", ("target", "pve2")));
        stopped["exitstatus"]!.GetValue<string>().Should().Contain("Can't connect to destination address using public key");

        // Back on the network: as it was, still running.
        using (var control = sim.CreateClient())
        {
            (await control.PostAsync("/_sim/nodes/pve2/online", null)).StatusCode.Should().Be(HttpStatusCode.OK);
            (await control.PostAsync("/_sim/nodes/pve9/offline", null)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        }

        (await api.Get("nodes/pve2/lxc/300/status/current")).Data!["status"]!.GetValue<string>().Should().Be("running");
    }

    [Fact]
    public async Task The_control_endpoint_migrates_as_an_admin_would()
    {
        var (sim, api) = await Sims.Start(nodes: ["pve1", "pve2"]);
        await using var _ = sim;
        sim.AddGuest(new TemplateSeed(300, "moving", GuestKind.Qemu) { Node = "pve1" }, isTemplate: false);
        await api.RunTask(api.Post("nodes/pve1/qemu/300/status/start"));
        using var control = sim.CreateClient();

        var started = await control.PostAsJsonAsync("/_sim/guests/300/migrate", new { target = "pve2" });
        started.StatusCode.Should().Be(HttpStatusCode.OK);
        var upid = (await started.Content.ReadFromJsonAsync<JsonObject>())!["upid"]!.GetValue<string>();
        (await api.WaitTask(upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve2/qemu/300/status/current")).Data!["status"]!.GetValue<string>().Should().Be("running");

        (await control.PostAsJsonAsync("/_sim/guests/300/migrate", new { target = "pve2" })).StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await control.PostAsJsonAsync("/_sim/guests/399/migrate", new { target = "pve1" })).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await control.PostAsJsonAsync("/_sim/guests/300/migrate", new { target = "" })).StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    private static async Task<JsonObject> Resource(ApiClient api, int vmid) =>
        (await api.Get("cluster/resources", ("type", "vm"))).Data!.AsArray().Single(g => g!["vmid"]!.GetValue<int>() == vmid)!.AsObject();
}
