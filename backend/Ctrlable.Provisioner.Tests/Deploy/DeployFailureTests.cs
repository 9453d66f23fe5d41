using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Faults;
using Ctrlable.PveSim.Seeding;
using Microsoft.Extensions.DependencyInjection;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// The ways a deploy or a delete can fail, each ending in the instance's final state with a readable reason (Proxmox's
/// own words where it gave some). One emulator and one orchestrator for the class (its tests run one after another),
/// with a short back-off between attempts of a step (Deploy:RetryDelaySeconds) so no test waits real seconds for it.
/// </summary>
public sealed class DeployFailureTests(DeployFailureTests.Site site) : IClassFixture<DeployFailureTests.Site>
{
    private const int Attempts = 3;

    [Fact]
    public async Task Proxmox_answering_5xx_to_every_attempt_fails_the_instance_with_proxmoxs_message_after_the_configured_attempts()
    {
        var starts = 0;
        site.Pve.Sim.Faults.Settings = new FaultSettings { ServerErrorRate = 1, ServerErrorStatus = 503, ServerErrorMessage = "proxy handler failed: got timeout", PathPattern = "/status/start$", Method = "POST" };
        site.Pve.Sim.Intercept = async (call, next) =>
        {
            if (call.Method == "POST" && call.Path.EndsWith("/status/start", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref starts);
            }

            await next();
        };

        var failed = await DeployAsync("Busy", "zwavejs");

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("message").GetString().Should().Be("Failed while starting");
        failed.GetProperty("error").GetString().Should().Be($"Proxmox refused POST /nodes/pve1/lxc/{Vmid(failed)}/status/start: proxy handler failed: got timeout");
        starts.Should().Be(Attempts, "each attempt of the step (Deploy:TransientAttempts) asked once; the HTTP client never repeats a POST");
        site.Guest(Vmid(failed)).Running.Should().BeFalse("the guest stays as it was, for a retry");
    }

    [Fact]
    public async Task A_refusal_that_is_not_transient_fails_the_instance_at_once_with_proxmoxs_message()
    {
        var puts = 0;
        site.Pve.Sim.Faults.Settings = new FaultSettings
        {
            ServerErrorRate = 1,
            ServerErrorStatus = 403,
            ServerErrorMessage = "Permission check failed (/vms/1000, VM.Config.Network)",
            PathPattern = "/config$",
            Method = "PUT",
        };
        site.Pve.Sim.Intercept = async (call, next) =>
        {
            if (call.Method == "PUT" && call.Path.EndsWith("/config", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref puts);
            }

            await next();
        };

        var failed = await DeployAsync("Refused", "zwavejs");

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("message").GetString().Should().Be("Failed while configuring");
        failed.GetProperty("error").GetString().Should().Be($"Proxmox refused PUT /nodes/pve1/lxc/{Vmid(failed)}/config: Permission check failed (/vms/1000, VM.Config.Network)");
        puts.Should().Be(1, "a 4xx is Proxmox's answer, not a busy host: it is not asked again");
    }

    [Fact]
    public async Task A_start_task_that_fails_fails_the_instance_with_the_task_error_and_a_retry_deploys_it()
    {
        var failing = true;
        FailStartTasksWhile(() => failing);

        var failed = await DeployAsync("Stalled", "zwavejs");

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("message").GetString().Should().Be("Start failed");
        failed.GetProperty("error").GetString().Should().Contain("TASK ERROR: startup for container '1000' failed");
        site.Guest(Vmid(failed)).Running.Should().BeFalse();

        failing = false;
        (await site.Client.PostAsync($"/api/instances/{failed.GetProperty("id").GetInt64()}/retry", null)).EnsureSuccessStatusCode();
        var retried = await site.SettledAsync(failed.GetProperty("projectId").GetInt64());
        retried.GetProperty("state").GetString().Should().Be("active", retried.GetProperty("error").ToString());
        Vmid(retried).Should().Be(Vmid(failed), "its own guest is started again, not cloned anew");
    }

    [Fact]
    public async Task A_retry_asked_for_as_the_failed_run_ends_is_run_not_dropped()
    {
        var failing = true;
        FailStartTasksWhile(() => failing);
        // The run has read its instance failed for the last time but still holds it when the dealer's retry lands (as a
        // re-wiring of Home Assistant can land as its deploy ends): the runner reads that request while the run is live.
        site.Hooks.At(DeployPipeline.RunEnded, async id =>
        {
            failing = false;
            (await site.Client.PostAsync($"/api/instances/{id}/retry", null)).EnsureSuccessStatusCode();
            await Eventually.TrueAsync(() => site.App.Service<DeployRunner>().Queued == 0, "the runner read the retry");
        });

        try
        {
            var project = await DeployApiTests.CreateProjectAsync(site.Client, "Retried as it ended");
            (await site.Client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();
            var retried = (await DeployApiTests.WaitForAsync(site.Client, project, i => i.GetProperty("state").GetString() == "active")).Single();

            retried.GetProperty("error").ValueKind.Should().Be(JsonValueKind.Null);
            site.Guest(Vmid(retried)).Running.Should().BeTrue();
        }
        finally
        {
            site.Hooks.Clear();
            site.Pve.Sim.Faults.Reset();
            site.Pve.Sim.Intercept = null;
        }
    }

    [Fact]
    public async Task A_guest_that_never_reports_its_first_boot_fails_at_the_deadline_saying_so()
    {
        // Its own emulator and orchestrator: a first-boot deadline of one second, and guests that run no first boot.
        await using var pve = await ProxmoxHarness.StartAsync();
        var settings = ProvisionerApp.ProxmoxSettings(pve);
        settings["Deploy:FirstBootTimeoutSeconds"] = "1";
        using var app = new ProvisionerApp(settings: settings, https: true);
        await Site.ActivateAsync(app);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Silent");
        (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();

        var failed = (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("message").GetString().Should().Be("No first-boot report");
        failed.GetProperty("error").GetString().Should().StartWith("The guest did not report its first boot within")
            .And.Contain("Check its network and the orchestrator address in /etc/ctrlable/firstboot.env.");
        pve.Sim.State.Guests[Vmid(failed)].Running.Should().BeTrue("the guest is left running for the dealer to look at");
    }

    [Fact]
    public async Task A_vmid_taken_between_the_check_and_the_clone_is_given_up_without_waiting_and_another_is_used()
    {
        int? taken = null;
        ForeignGuests.Snapshot? foreign = null;
        var asked = 0;
        site.Pve.Sim.Intercept = async (call, next) =>
        {
            await next();
            if (call.Path == "/cluster/nextid" && call.Query.StartsWith("?vmid=", StringComparison.Ordinal))
            {
                var vmid = int.Parse(call.Query["?vmid=".Length..], CultureInfo.InvariantCulture);
                if (taken is null)
                {
                    // Found free; before the clone request comes, another admin creates a VM there (outside the product's
                    // pool, so the product's token cannot see it).
                    taken = vmid;
                    site.Pve.Sim.AddGuest(new TemplateSeed(vmid, "admin-new-vm", SimGuestKind.Qemu, 4) { Description = "made by hand" }, isTemplate: false);
                    foreign = ForeignGuests.Capture(site.Pve.Sim, [vmid]);
                }
                else if (vmid == taken)
                {
                    Interlocked.Increment(ref asked);
                }
            }
        };

        var instance = await DeployAsync("Race", "zwavejs");

        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        Vmid(instance).Should().NotBe(taken!.Value);
        foreign!.ShouldBeUntouched(site.Pve.Sim, "(the VM that took the VMID)");
        asked.Should().BeLessThan(5, "the VMID is given up at once, not polled until the guest there shows up");
    }

    [Fact]
    public async Task No_free_vmid_in_the_range_fails_the_instance_naming_the_range()
    {
        // A second orchestrator on the same host whose range is VMID 100 alone: the admin's VM there, outside the
        // product's pool (its token cannot see it; Proxmox's nextid says it is taken).
        var settings = ProvisionerApp.ProxmoxSettings(site.Pve);
        settings["Deploy:VmidMin"] = "100";
        settings["Deploy:VmidMax"] = "100";
        using var app = new ProvisionerApp(settings: settings);
        await Site.ActivateAsync(app);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Full");
        var foreign = ForeignGuests.Capture(site.Pve.Sim);
        (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" })).EnsureSuccessStatusCode();

        var failed = (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("message").GetString().Should().Be("Failed while cloning");
        failed.GetProperty("error").GetString().Should().Be("Proxmox refused GET /cluster/nextid: No free VMID left between 100 and 100 (Deploy:VmidMin/VmidMax).");
        failed.GetProperty("vmid").ValueKind.Should().Be(JsonValueKind.Null);
        foreign.ShouldBeUntouched(site.Pve.Sim);
    }

    [Fact]
    public async Task A_template_no_longer_on_the_host_fails_the_instance_saying_which_and_what_to_do()
    {
        var failed = await DeployAsync("Gone", "zigbee2mqtt");

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("message").GetString().Should().Be("Failed while cloning");
        failed.GetProperty("error").GetString().Should().Contain($"Template {Site.MissingTemplate} (zigbee2mqtt) of release 2026.06 is not on this Proxmox host. Build the release again.");
    }

    [Fact]
    public async Task A_guest_that_stays_locked_is_not_deleted_and_the_delete_fails_saying_so()
    {
        var active = await DeployAsync("Locked", "zwavejs");
        active.GetProperty("state").GetString().Should().Be("active", active.GetProperty("error").ToString());
        var vmid = Vmid(active);
        lock (site.Pve.Sim.State.Sync)
        {
            site.Guest(vmid).Config["lock"] = "backup";
        }

        try
        {
            var failed = await DeleteAsync(active);

            failed.GetProperty("state").GetString().Should().Be("failed");
            failed.GetProperty("message").GetString().Should().Be("Failed while deleting");
            failed.GetProperty("error").GetString().Should().Be($"Guest {vmid} stayed locked (backup).");
            site.Guest(vmid).Running.Should().BeTrue("a locked guest is neither stopped nor destroyed");
        }
        finally
        {
            lock (site.Pve.Sim.State.Sync)
            {
                site.Guest(vmid).Config.Remove("lock");
            }
        }

        (await DeleteAsync(active)).GetProperty("state").GetString().Should().Be("deleted");
        site.Pve.Sim.State.Guests.Should().NotContainKey(vmid);
    }

    [Fact]
    public async Task A_destroy_task_that_fails_leaves_the_instance_failed_with_proxmoxs_message_and_a_later_delete_succeeds()
    {
        var active = await DeployAsync("Stuck", "zwavejs");
        active.GetProperty("state").GetString().Should().Be("active", active.GetProperty("error").ToString());
        var vmid = Vmid(active);
        var destroys = 0;
        var failing = true;
        var volume = $"Logical volume pve/vm-{vmid}-disk-0 in use.";
        site.Pve.Sim.Intercept = async (call, next) =>
        {
            if (failing && call.Method == "DELETE" && call.Path == $"/nodes/pve1/lxc/{vmid}")
            {
                Interlocked.Increment(ref destroys);
                site.Pve.Sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = volume };
                await next();
                site.Pve.Sim.Faults.Reset();
                return;
            }

            await next();
        };

        var failed = await DeleteAsync(active);

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("message").GetString().Should().Be("Failed while deleting");
        failed.GetProperty("error").GetString().Should().Be($"Proxmox refused DELETE /nodes/pve1/lxc/{vmid}: TASK ERROR: {volume}");
        destroys.Should().Be(Attempts, "a failed destroy is tried again like a busy host, up to Deploy:TransientAttempts");
        site.Pve.Sim.State.Guests.Should().ContainKey(vmid, "a destroy that failed leaves the guest");

        failing = false;
        (await DeleteAsync(active)).GetProperty("state").GetString().Should().Be("deleted");
        site.Pve.Sim.State.Guests.Should().NotContainKey(vmid);
    }

    private static int Vmid(JsonElement instance) => instance.GetProperty("vmid").GetInt32();

    /// <summary>Deploys one instance into a new project and returns it once it is active or failed; faults and the hook are reset after.</summary>
    /// <summary>While <paramref name="failing"/> holds, each start task fails (a fault is decided when a task is created).</summary>
    private void FailStartTasksWhile(Func<bool> failing) => site.Pve.Sim.Intercept = async (call, next) =>
    {
        if (failing() && call.Method == "POST" && call.Path.EndsWith("/status/start", StringComparison.Ordinal))
        {
            site.Pve.Sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = "startup for container '1000' failed" };
            await next();
            site.Pve.Sim.Faults.Reset();
            return;
        }

        await next();
    };

    private async Task<JsonElement> DeployAsync(string project, string type)
    {
        try
        {
            var id = await DeployApiTests.CreateProjectAsync(site.Client, project);
            (await site.Client.PostAsJsonAsync($"/api/projects/{id}/instances", new { type })).EnsureSuccessStatusCode();
            return await site.SettledAsync(id);
        }
        finally
        {
            site.Pve.Sim.Faults.Reset();
            site.Pve.Sim.Intercept = null;
        }
    }

    /// <summary>Deletes the instance and returns it once it is deleted or failed; faults and the hook are reset after.</summary>
    private async Task<JsonElement> DeleteAsync(JsonElement instance)
    {
        try
        {
            var id = instance.GetProperty("id").GetInt64();
            (await site.Client.DeleteAsync($"/api/instances/{id}")).StatusCode.Should().Be(HttpStatusCode.OK);
            return await DeployApiTests.WaitForInstanceAsync(site.Client, id, i => i.GetProperty("state").GetString() is "deleted" or "failed");
        }
        finally
        {
            site.Pve.Sim.Faults.Reset();
            site.Pve.Sim.Intercept = null;
        }
    }

    /// <summary>
    /// An emulator (with another admin's guests) and an orchestrator whose steps try <see cref="Attempts"/> times 50 ms
    /// apart and wait at most 5 s for a task or a lock. Its
    /// release has zwavejs and ctrlable-pro on the host and zigbee2mqtt recorded as built at a VMID the host no longer has.
    /// </summary>
    public sealed class Site : IAsyncLifetime
    {
        public const int MissingTemplate = 9002;

        internal ProxmoxHarness Pve { get; private set; } = null!;
        internal ProvisionerApp App { get; private set; } = null!;
        public HttpClient Client { get; private set; } = null!;
        internal StepHooks Hooks { get; } = new();

        public async Task InitializeAsync()
        {
            var boot = new DeferredBootBehaviour();
            Pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
            var settings = ProvisionerApp.ProxmoxSettings(Pve);
            settings["Deploy:TransientAttempts"] = Attempts.ToString(CultureInfo.InvariantCulture);
            settings["Deploy:RetryDelaySeconds"] = "0.05";
            settings["Deploy:TaskTimeoutSeconds"] = "5";
            settings["Deploy:FirstBootTimeoutSeconds"] = "300";
            App = new ProvisionerApp(settings: settings, https: true, services: s => s.AddSingleton<IDeployStepObserver>(Hooks));
            await ActivateAsync(App, withMissingTemplate: true);
            boot.Connect(FirstBootGuests.Behaviour(App));
            Client = await App.CreateClientAsync(Role.Operator);
        }

        /// <summary>Records the release as a build would: its templates on this host and its first-boot secret.</summary>
        internal static async Task ActivateAsync(ProvisionerApp app, bool withMissingTemplate = false)
        {
            await app.EnsureSetUpAsync();
            var now = DateTimeOffset.UtcNow;
            List<TemplateRow> templates =
            [
                new TemplateRow(0, "2026.06", "zwavejs", "lxc", ProxmoxHarness.LxcTemplate, "pve1", "2026-05-30", null, "9.x", now),
                new TemplateRow(0, "2026.06", "ctrlable-pro", "vm", ProxmoxHarness.QemuTemplate, "pve1", "2026-05-30", null, null, now),
            ];
            if (withMissingTemplate)
            {
                templates.Add(new TemplateRow(0, "2026.06", "zigbee2mqtt", "lxc", MissingTemplate, "pve1", "2026-05-30", null, "2.x", now));
            }

            await app.Service<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", null, templates, now, CancellationToken.None);
            await app.Service<ReleaseSecrets>().GetOrIssueAsync("2026.06", CancellationToken.None);
        }

        public Ctrlable.PveSim.Guests.SimGuest Guest(int vmid)
        {
            lock (Pve.Sim.State.Sync)
            {
                return Pve.Sim.State.Guests[vmid];
            }
        }

        /// <summary>The project's one instance once it is active or failed.</summary>
        public async Task<JsonElement> SettledAsync(long project) =>
            (await DeployApiTests.WaitForAsync(Client, project, i => i.GetProperty("state").GetString() is "active" or "failed")).Single();

        public async Task DisposeAsync()
        {
            Client.Dispose();
            await App.DisposeAsync();
            await Pve.DisposeAsync();
        }
    }
}
