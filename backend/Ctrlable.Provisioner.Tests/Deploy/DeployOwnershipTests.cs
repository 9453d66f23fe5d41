using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// The pipeline changes, powers or destroys a guest only when it carries the instance's marker (written by the clone
/// request, with a nonce no other database has). Another admin's guest at an instance's VMID, even one described the
/// way a reinstalled orchestrator would describe it, is reported and left alone; the admin's guests at 100, 999 and
/// 10000 (the last two in the product's pool, so its token sees them) stay untouched throughout.
/// </summary>
public sealed class DeployOwnershipTests
{
    [Fact]
    public async Task A_failed_clone_never_destroys_a_guest_another_admin_made_at_its_vmid_meanwhile()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var data = TempDirectory.Create("own-clone");
        var port = TestPorts.Free();
        var crash = new StopWhileCloneRuns();
        pve.Sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = "clone failed: storage local-lvm full", PathPattern = "/clone" };
        long project;
        int vmid;
        await using (var first = await DeployResilienceTests.StartAsync(pve, data, crash, boot, port))
        {
            using var client = await first.App.CreateClientAsync(Role.Operator);
            project = await DeployApiTests.CreateProjectAsync(client, "Owned");
            (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
            await crash.Reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
            vmid = (await DeployApiTests.WaitForAsync(client, project, _ => true)).Single().GetProperty("vmid").GetInt32();
        }

        // While the orchestrator is down its clone task fails (Proxmox removes the half-made clone), and another admin
        // makes a guest at the free VMID, in the product's pool.
        await Eventually.TrueAsync(() => pve.Sim.TaskLog.Any(t => t.Type == "vzclone" && t.Ended is not null), "the clone's task ended");
        pve.Sim.Faults.Reset();
        pve.Sim.AddGuest(new TemplateSeed(vmid, "admin-mail", SimGuestKind.Lxc, 4) { Pool = "ctrlable", Running = true, Description = "the admin's mail server" }, isTemplate: false);
        var theirs = ForeignGuests.Capture(pve.Sim, [vmid]);

        await using var second = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, port);
        using var again = await second.App.CreateClientAsync(Role.Operator);
        var failed = (await DeployApiTests.WaitForAsync(again, project, i => i.GetProperty("state").GetString() is "failed" or "active")).Single();

        theirs.ShouldBeUntouched(pve.Sim, "(it took the VMID of a failed clone)");
        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("error").GetString().Should().Contain("storage local-lvm full")
            .And.Contain($"VMID {vmid} holds a guest that is not this instance's").And.Contain("it was left alone");
        foreign.ShouldBeUntouched(pve.Sim);
        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task After_a_restart_a_guest_at_the_reserved_vmid_described_like_ours_by_another_orchestrator_is_not_adopted()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var data = TempDirectory.Create("own-adopt");
        var port = TestPorts.Free();
        var crash = new DeployResilienceTests.CrashAt(DeployPipeline.VmidReserved);
        long project;
        JsonElement reserved;
        await using (var first = await DeployResilienceTests.StartAsync(pve, data, crash, boot, port))
        {
            using var client = await first.App.CreateClientAsync(Role.Operator);
            project = await DeployApiTests.CreateProjectAsync(client, "Reinstalled");
            (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
            await crash.Reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
            reserved = (await DeployApiTests.WaitForAsync(client, project, _ => true)).Single();
        }

        // Another orchestrator on this host (reinstalled with a fresh database: same project and instance numbers) made
        // this guest at the VMID and described it as it describes its own.
        var vmid = reserved.GetProperty("vmid").GetInt32();
        var hostname = reserved.GetProperty("hostname").GetString()!;
        pve.Sim.AddGuest(new TemplateSeed(vmid, hostname, SimGuestKind.Lxc, 4)
        {
            Pool = "ctrlable",
            Description = $"Ctrlable zwavejs of project #{project}, instance #{reserved.GetProperty("id").GetInt64()} ({hostname}), release 2026.06. Managed by Ctrlable Provisioner.",
        }, isTemplate: false);
        var theirs = ForeignGuests.Capture(pve.Sim, [vmid]);

        await using var second = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, port);
        using var again = await second.App.CreateClientAsync(Role.Operator);
        var instance = (await DeployApiTests.WaitForAsync(again, project, i => i.GetProperty("state").GetString() is "failed" or "active")).Single();

        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        instance.GetProperty("vmid").GetInt32().Should().NotBe(vmid, "the other guest is not adopted: the instance is cloned at another VMID");
        theirs.ShouldBeUntouched(pve.Sim, "(never configured as the instance's)");
        foreign.ShouldBeUntouched(pve.Sim);
        TempDirectory.TryDelete(data);
    }

    [Theory]
    [InlineData(InstanceStates.Configuring)]
    [InlineData(InstanceStates.Starting)]
    public async Task After_a_restart_a_guest_that_replaced_the_instances_is_neither_configured_nor_started(string step)
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var data = TempDirectory.Create("own-resume");
        var port = TestPorts.Free();
        var crash = new DeployResilienceTests.CrashAt(step);
        long project;
        JsonElement stopped;
        await using (var first = await DeployResilienceTests.StartAsync(pve, data, crash, boot, port))
        {
            using var client = await first.App.CreateClientAsync(Role.Operator);
            project = await DeployApiTests.CreateProjectAsync(client, "Resumed");
            (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
            await crash.Reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
            stopped = (await DeployApiTests.WaitForAsync(client, project, _ => true)).Single();
        }

        // While the orchestrator is down the admin replaces its (stopped) guest by another, stopped too.
        var vmid = stopped.GetProperty("vmid").GetInt32();
        var theirs = await ReplaceGuestAsync(pve, stopped.GetProperty("id").GetInt64(), vmid, project, running: false);

        await using var second = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, port);
        using var again = await second.App.CreateClientAsync(Role.Operator);
        // (Waiting: a guest started as the instance's waits for its first boot.)
        var instance = (await DeployApiTests.WaitForAsync(again, project, i => i.GetProperty("state").GetString() is "failed" or "active" or "waiting")).Single();

        theirs.ShouldBeUntouched(pve.Sim, $"(found at the instance's VMID when it resumed {step})");
        instance.GetProperty("state").GetString().Should().Be("failed");
        instance.GetProperty("message").GetString().Should().Be("Not this instance's guest");
        instance.GetProperty("error").GetString().Should().StartWith($"VMID {vmid} holds a guest that is not this instance's");
        foreign.ShouldBeUntouched(pve.Sim);
        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task A_guest_that_replaced_the_instances_guest_is_never_powered_reconfigured_or_destroyed()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var data = TempDirectory.Create("own-replaced");
        await using var run = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, TestPorts.Free());
        using var client = await run.App.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Replaced");
        var (id, vmid) = await DeployOneAsync(client, project);
        var theirs = await ReplaceGuestAsync(pve, id, vmid, project);

        // Power actions on it are refused with the reason.
        var stop = await client.PostAsync($"/api/instances/{id}/stop", null);
        stop.StatusCode.Should().Be(HttpStatusCode.Conflict);
        stop.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await stop.Content.ReadAsStringAsync()).Should().Contain($"VMID {vmid} holds a guest that is not this instance's");

        // The instance fails for a reason of its own; a retry clones it anew instead of reconfiguring the other guest.
        await run.App.Service<InstanceTransitions>().SetStateAsync(id, InstanceStates.Failed, "Start failed", error: "a failure of its own", ct: CancellationToken.None);
        (await client.PostAsync($"/api/instances/{id}/retry", null)).StatusCode.Should().Be(HttpStatusCode.OK);
        var retried = await DeployApiTests.WaitForInstanceAsync(client, id, i => i.GetProperty("state").GetString() is "active" or "failed");
        retried.GetProperty("state").GetString().Should().Be("active", retried.GetProperty("error").ToString());
        var fresh = retried.GetProperty("vmid").GetInt32();
        fresh.Should().NotBe(vmid);

        (await client.DeleteAsync($"/api/instances/{id}")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await DeployApiTests.WaitForInstanceAsync(client, id, i => i.GetProperty("state").GetString() is "deleted" or "failed")).GetProperty("state").GetString().Should().Be("deleted");
        pve.Sim.State.Guests.Should().NotContainKey(fresh, "its own guest is destroyed");
        theirs.ShouldBeUntouched(pve.Sim, "(not stopped, reconfigured or destroyed)");
        foreign.ShouldBeUntouched(pve.Sim);
        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task Deleting_an_instance_whose_vmid_now_holds_another_guest_leaves_that_guest_alone_and_says_so()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var data = TempDirectory.Create("own-delete");
        await using var run = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, TestPorts.Free());
        using var client = await run.App.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Gone");
        var (id, vmid) = await DeployOneAsync(client, project);
        // A VM this time, where the instance's guest was a container.
        var theirs = await ReplaceGuestAsync(pve, id, vmid, project, SimGuestKind.Qemu);

        (await client.DeleteAsync($"/api/instances/{id}")).StatusCode.Should().Be(HttpStatusCode.OK);
        var deleted = await DeployApiTests.WaitForInstanceAsync(client, id, i => i.GetProperty("state").GetString() is "deleted" or "failed");

        theirs.ShouldBeUntouched(pve.Sim, "(the instance's delete found it at its VMID)");
        deleted.GetProperty("state").GetString().Should().Be("deleted");
        deleted.GetProperty("message").GetString().Should().Contain("left alone");
        deleted.GetProperty("error").GetString().Should().Be($"VMID {vmid} holds a guest that is not this instance's (its description lacks the instance's ownership marker): it was left alone.");
        foreign.ShouldBeUntouched(pve.Sim);
        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task The_admins_guests_at_100_999_and_10000_are_untouched_by_a_deploy_and_delete_and_clones_are_marked_when_made()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var data = TempDirectory.Create("own-stack");
        await using var run = await DeployResilienceTests.StartAsync(pve, data, observer: null, boot, TestPorts.Free());
        using var client = await run.App.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Stack");

        (await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "zwavejs", "ctrlable-pro" } })).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var instances = await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed");

        instances.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", instances.Select(i => i.GetProperty("error").ToString())));
        foreign.ShouldBeUntouched(pve.Sim, "by the deploy");
        var repository = run.App.Service<InstanceRepository>();
        foreach (var dto in instances)
        {
            var row = (await repository.GetAsync(dto.GetProperty("id").GetInt64(), CancellationToken.None))!;
            row.OwnerNonce.Should().MatchRegex("^[0-9a-f]{32}$", "each instance has its own random nonce");
            pve.Sim.State.Guests[(int)row.Vmid!.Value].Config["description"].Should().Contain($"instance #{row.Id} ({row.Hostname}) [{row.OwnerNonce}]");
        }

        // The marker was in the clone request itself: the guest carries it from its first moment, before configuring.
        pve.Sim.TaskLog.Where(t => t.Type is "vzclone" or "qmclone").Should().HaveCount(2);
        foreach (var dto in instances)
        {
            (await client.DeleteAsync($"/api/instances/{dto.GetProperty("id").GetInt64()}")).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        foreach (var dto in instances)
        {
            (await DeployApiTests.WaitForInstanceAsync(client, dto.GetProperty("id").GetInt64(), i => i.GetProperty("state").GetString() is "deleted" or "failed"))
                .GetProperty("state").GetString().Should().Be("deleted");
        }

        pve.Sim.State.Access.Pools["ctrlable"].Vms.Should().BeEquivalentTo([999, 10000], "only the admin's guests are left in the pool");
        foreign.ShouldBeUntouched(pve.Sim, "by the delete");
        TempDirectory.TryDelete(data);
    }

    [Fact]
    public void The_marker_holds_the_instances_nonce_and_rows_from_before_it_keep_the_older_marker()
    {
        var row = new InstanceRow(7, 2, 3, "zwavejs", "lxc", "site-zwavejs", 1000, 9001, "pve1", null, null, "active", "2026.06", null, null, null, null, null,
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, false, null, OwnerNonce: "00ff");

        GuestOwnership.Description(row).Should().Be("Ctrlable zwavejs of project #2, instance #7 (site-zwavejs) [00ff], release 2026.06. Managed by Ctrlable Provisioner.");
        GuestOwnership.Carries(new Dictionary<string, string> { ["description"] = GuestOwnership.Description(row) }, row).Should().BeTrue();
        GuestOwnership.Carries(new Dictionary<string, string> { ["description"] = GuestOwnership.Description(row with { OwnerNonce = "11ee" }) }, row)
            .Should().BeFalse("another database's instance #7 has another nonce");
        GuestOwnership.Carries(new Dictionary<string, string> { ["description"] = GuestOwnership.Description(row with { OwnerNonce = null }) }, row).Should().BeFalse();
        GuestOwnership.Carries(new Dictionary<string, string>(), row).Should().BeFalse();
        GuestOwnership.Marker(row with { OwnerNonce = null }).Should().Be("instance #7 (site-zwavejs)");
    }

    /// <summary>Deploys one zwavejs instance to active; its id and VMID.</summary>
    private static async Task<(long Id, int Vmid)> DeployOneAsync(HttpClient client, long project)
    {
        (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
        var instance = (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();
        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        return (instance.GetProperty("id").GetInt64(), instance.GetProperty("vmid").GetInt32());
    }

    /// <summary>
    /// The admin destroys the instance's guest in Proxmox and makes another at its VMID, in the product's pool and
    /// running, described the way a reinstalled orchestrator (same instance numbers) would describe its own.
    /// </summary>
    private static async Task<ForeignGuests.Snapshot> ReplaceGuestAsync(ProxmoxHarness pve, long id, int vmid, long project, SimGuestKind kind = SimGuestKind.Lxc, bool running = true)
    {
        var hostname = pve.Sim.State.Guests[vmid].Name;
        if (pve.Sim.State.Guests[vmid].Running)
        {
            var stop = await pve.Client.StopAsync("pve1", GuestKind.Lxc, vmid, CancellationToken.None);
            (await pve.Tasks.WaitAsync("pve1", stop, TimeSpan.FromMinutes(1), CancellationToken.None)).Succeeded.Should().BeTrue();
        }

        var destroy = await pve.Client.DeleteAsync("pve1", GuestKind.Lxc, vmid, CancellationToken.None);
        (await pve.Tasks.WaitAsync("pve1", destroy, TimeSpan.FromMinutes(1), CancellationToken.None)).Succeeded.Should().BeTrue();
        pve.Sim.AddGuest(new TemplateSeed(vmid, hostname, kind, 4)
        {
            Pool = "ctrlable",
            Running = running,
            Description = $"Ctrlable zwavejs of project #{project}, instance #{id} ({hostname}), release 2026.06. Managed by Ctrlable Provisioner.",
        }, isTemplate: false);
        return ForeignGuests.Capture(pve.Sim, [vmid]);
    }

    /// <summary>Freezes the pipeline once the clone's task is recorded (Proxmox goes on with it), like a process that died there.</summary>
    private sealed class StopWhileCloneRuns : IDeployStepObserver
    {
        private volatile bool _requested;

        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task AfterStepAsync(long instanceId, string reached, CancellationToken ct)
        {
            if (reached == DeployPipeline.CloneRequested)
            {
                _requested = true;
            }
            else if (_requested && reached == InstanceStates.Cloning)
            {
                Reached.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }
        }
    }
}
