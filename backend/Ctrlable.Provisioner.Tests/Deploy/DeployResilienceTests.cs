using System.Net.Http.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Faults;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// Deploys against an emulator that outlives the orchestrator: the orchestrator is stopped at each step of
/// the pipeline in turn and started again on the same database (and the same HTTPS port, as a real install),
/// and Proxmox faults are injected. The emulator's guests run the real first-boot script against whichever
/// orchestrator is up, so a deploy ends in active. The stop-at-each-step cases are spread over the classes at the
/// end of this file (one xunit collection each), so that they run in parallel.
/// </summary>
public sealed class DeployResilienceTests
{
    /// <summary>Stops the orchestrator right after <paramref name="step"/>, starts it again, and checks the deploy converged.</summary>
    internal static async Task StoppedAfterStepConvergesAsync(string step)
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
        var foreign = ForeignGuests.Capture(pve.Sim);
        var data = TempDirectory.Create("crash");
        var port = TestPorts.Free();
        var crash = new CrashAt(step);
        long project;
        await using (var first = await StartAsync(pve, data, crash, boot, port))
        {
            using var client = await first.App.CreateClientAsync(Role.Operator);
            project = await DeployApiTests.CreateProjectAsync(client, "Crash");
            (await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { types = new[] { "zwavejs", "ctrlable-pro" } })).EnsureSuccessStatusCode();
            (await Task.WhenAny(crash.Reached.Task, Task.Delay(TimeSpan.FromSeconds(60)))).Should().Be(crash.Reached.Task, $"the pipeline should reach {step}");
        }

        // The "crashed" orchestrator is gone; Proxmox went on with whatever task it had been given.
        await using var second = await StartAsync(pve, data, observer: null, boot, port);
        using var again = await second.App.CreateClientAsync(Role.Operator);
        List<System.Text.Json.JsonElement> instances;
        try
        {
            instances = await DeployApiTests.WaitForAsync(again, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException e)
        {
            // What the guests' first boots did tells why an instance still waits for one.
            throw new TimeoutException($"{e.Message} / boot log: {string.Join("; ", pve.Sim.BootLog.Select(b => $"{b.Vmid} {b.Error ?? "ok"}"))}", e);
        }

        instances.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", instances.Select(i => i.GetProperty("error").ToString())));
        var pool = pve.Sim.State.Access.Pools["ctrlable"].Vms.Except(ForeignGuests.Vmids);
        foreign.ShouldBeUntouched(pve.Sim, $"(stopped at {step})");
        var guests = string.Join(", ", pve.Sim.State.Guests.Values.Select(g => $"{g.Vmid}={g.Name}/{g.Lock}"));
        var rows = string.Join(", ", instances.Select(i => $"{i.GetProperty("vmid")}={i.GetProperty("hostname")}"));
        pool.Should().BeEquivalentTo(instances.Select(i => i.GetProperty("vmid").GetInt32()), $"every guest in the product's pool belongs to exactly one instance (guests {guests}; instances {rows}; tasks {string.Join(", ", pve.Sim.TaskLog.Select(t => $"{t.Type}:{t.Id}:{t.ExitStatus}"))})");
        pve.Sim.State.Guests.Values.Where(g => !g.IsTemplate).Select(g => g.Name).Should().OnlyHaveUniqueItems();

        // Home Assistant: restored once, one orchestrator user, every service wired once.
        var homeAssistant = pve.Sim.HomeAssistant(instances.Single(i => i.GetProperty("type").GetString() == "ctrlable-pro").GetProperty("vmid").GetInt32())!.State;
        homeAssistant.UploadedBackups.Should().HaveCount(1);
        homeAssistant.Credentials.Count(c => c.Username == HomeAssistantSetup.OrchestratorUsername).Should().Be(1);
        homeAssistant.ConfigEntries.Select(e => e.Domain).Should().BeEquivalentTo(["mqtt", "zwave_js"]);
        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task A_clone_still_running_when_the_orchestrator_restarts_is_adopted_not_repeated()
    {
        // The emulator holds the clone task until the restarted orchestrator has looked for the guest: until the task
        // ends the clone is not in the product's pool, so the token cannot see it; the restarted orchestrator must wait
        // for it, not clone again.
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot);
        var clone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pve.Sim.Tasks.Gate = task => task.Upid.Type == "qmclone" ? clone.Task : Task.CompletedTask;
        var data = TempDirectory.Create("slowclone");
        var port = TestPorts.Free();
        var crash = new CrashAt(DeployPipeline.CloneRequested);
        long project;
        await using (var first = await StartAsync(pve, data, crash, boot, port))
        {
            using var client = await first.App.CreateClientAsync(Role.Operator);
            project = await DeployApiTests.CreateProjectAsync(client, "Slow");
            (await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "ctrlable-pro" })).EnsureSuccessStatusCode();
            (await Task.WhenAny(crash.Reached.Task, Task.Delay(TimeSpan.FromSeconds(60)))).Should().Be(crash.Reached.Task);
        }

        pve.Sim.TaskLog.Should().ContainSingle(t => t.Type == "qmclone" && t.Ended == null, "the clone is still running when the orchestrator comes back");
        int vmid;
        lock (pve.Sim.State.Sync)
        {
            vmid = pve.Sim.State.Guests.Values.Single(g => g.ClonedFrom == ProxmoxHarness.QemuTemplate).Vmid;
        }

        var seen = new RequestRecorder();
        await using var second = await StartAsync(pve, data, observer: null, boot, port, s =>
            // One recorder in one handler chain: the factory must never rebuild the chain.
            s.AddHttpClient(ProxmoxClient.HttpClientName).AddHttpMessageHandler(() => seen).SetHandlerLifetime(Timeout.InfiniteTimeSpan));
        using var again = await second.App.CreateClientAsync(Role.Operator);
        await Eventually.TrueAsync(() => seen.Requests.Any(r => r.Query.Contains($"vmid={vmid}", StringComparison.Ordinal) || r.Path.Contains($"/{vmid}", StringComparison.Ordinal)),
            "the restarted orchestrator looks for the guest while its clone still runs");
        pve.Sim.TaskLog.Should().ContainSingle(t => t.Type == "qmclone" && t.Ended == null);
        clone.SetResult();
        var instance = (await DeployApiTests.WaitForAsync(again, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromSeconds(90))).Single();

        instance.GetProperty("state").GetString().Should().Be("active", instance.GetProperty("error").ToString());
        instance.GetProperty("vmid").GetInt32().Should().Be(vmid);
        pve.Sim.TaskLog.Where(t => t.Type == "qmclone").Should().ContainSingle("the clone the first orchestrator asked for is adopted");
        seen.Requests.Should().NotContain(r => r.Method == "POST" && r.Path.EndsWith("/clone", StringComparison.Ordinal));
        pve.Sim.State.Access.Pools["ctrlable"].Vms.Should().Equal(vmid);
        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task Flaky_reads_and_lock_contention_are_absorbed()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot);
        var data = TempDirectory.Create("faults");
        await using var run = await StartAsync(pve, data, observer: null, boot, TestPorts.Free());
        using var client = await run.App.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Flaky");
        // A fixed schedule, not a chance: every 5th request answers 503 and every 2nd config lock times out, a few times
        // each. Fewer than any one request's or step's retries (Polly retries a read or a lock timeout 4 times, the
        // pipeline a step 5 times: Deploy:TransientAttempts), so a pass does not depend on luck; every scheduled fault
        // strikes (4 deploys make far more requests and lock attempts than the schedule needs).
        var faults = new FaultSettings
        {
            ServerErrorEvery = 5,
            ServerErrorLimit = 4,
            ServerErrorStatus = 503,
            LockContentionEvery = 2,
            LockContentionLimit = 3,
            LatencyMs = 20,
        };
        var before = pve.Sim.Faults.Fired;
        pve.Sim.Faults.Settings = faults;

        var calls = Enumerable.Range(0, 4).Select(_ => client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" }));
        foreach (var response in await Task.WhenAll(calls))
        {
            response.EnsureSuccessStatusCode();
        }

        var instances = await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromSeconds(90));
        pve.Sim.Faults.Reset();
        var fired = pve.Sim.Faults.Fired;
        instances.Should().HaveCount(4).And.OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", instances.Select(i => i.GetProperty("error").ToString())));
        (fired.ServerErrors - before.ServerErrors).Should().Be(faults.ServerErrorLimit, "every scheduled 503 struck");
        (fired.LockContentions - before.LockContentions).Should().Be(faults.LockContentionLimit, "every scheduled lock timeout struck");
        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task A_clone_task_that_fails_fails_the_instance_with_proxmox_message_and_leaves_nothing_behind()
    {
        var boot = new DeferredBootBehaviour();
        await using var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot);
        var data = TempDirectory.Create("clonefail");
        await using var run = await StartAsync(pve, data, observer: null, boot, TestPorts.Free());
        using var client = await run.App.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Broken");
        pve.Sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = "clone failed: storage local-lvm full", PathPattern = "/clone" };

        await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" });
        var failed = (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "failed" or "active")).Single();

        failed.GetProperty("state").GetString().Should().Be("failed");
        failed.GetProperty("error").GetString().Should().Contain("storage local-lvm full");
        pve.Sim.State.Access.Pools["ctrlable"].Vms.Should().BeEmpty();

        pve.Sim.Faults.Reset();
        var retried = await client.PostAsync($"/api/instances/{failed.GetProperty("id").GetInt64()}/retry", null);
        retried.EnsureSuccessStatusCode();
        (await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "failed" or "active")).Single()
            .GetProperty("state").GetString().Should().Be("active");
        TempDirectory.TryDelete(data);
    }

    internal static async Task<Run> StartAsync(ProxmoxHarness pve, string data, IDeployStepObserver? observer, DeferredBootBehaviour boot, int httpsPort,
        Action<IServiceCollection>? services = null)
    {
        var settings = ProvisionerApp.ProxmoxSettings(pve);
        settings["Deploy:FirstBootTimeoutSeconds"] = "300";
        // A step that meets a transient error is tried again after 0.05, 0.1, 0.2 … s instead of 1, 2, 4 … s.
        settings["Deploy:RetryDelaySeconds"] = "0.05";
        // One HTTPS port across restarts: it is in the guests' firstboot.env.
        settings["Urls"] = $"https://127.0.0.1:{httpsPort};http://127.0.0.1:0";
        var app = new ProvisionerApp(dataDirectory: data, settings: settings, https: true, services: s =>
        {
            if (observer is not null)
            {
                s.AddSingleton(observer);
            }

            services?.Invoke(s);
        });
        await app.EnsureSetUpAsync();
        // The harness's templates, recorded as the active release (as a build would).
        var releases = app.Service<ReleaseRepository>();
        if (await releases.GetActiveNameAsync(CancellationToken.None) is null)
        {
            var now = DateTimeOffset.UtcNow;
            await releases.ActivateAsync("2026.06", "2026-05-30", null,
            [
                new TemplateRow(0, "2026.06", "zwavejs", "lxc", ProxmoxHarness.LxcTemplate, "pve1", "2026-05-30", null, "9.x", now),
                new TemplateRow(0, "2026.06", "ctrlable-pro", "vm", ProxmoxHarness.QemuTemplate, "pve1", "2026-05-30", null, null, now),
            ], now, CancellationToken.None);
        }

        // As the build would: the release's first-boot secret and its Home Assistant base backup.
        await app.Service<ReleaseSecrets>().GetOrIssueAsync("2026.06", CancellationToken.None);
        await TestBaseBackup.StoreAsync(app);
        boot.Connect(FirstBootGuests.Behaviour(app));
        return new Run(app, boot);
    }

    internal sealed class Run(ProvisionerApp app, DeferredBootBehaviour boot) : IAsyncDisposable
    {
        public ProvisionerApp App { get; } = app;

        public ValueTask DisposeAsync()
        {
            boot.Disconnect();
            App.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Freezes the pipeline the first time any instance reaches <paramref name="step"/>, like a process that died there.</summary>
    internal sealed class CrashAt(string step) : IDeployStepObserver
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task AfterStepAsync(long instanceId, string reached, CancellationToken ct)
        {
            if (reached == step)
            {
                Reached.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }
        }
    }
}

/// <summary>Stopped after a step of getting the guest: the VMID, the clone, its configuration.</summary>
public sealed class DeployResilienceCloneStepsTests
{
    [Theory]
    [InlineData(DeployPipeline.VmidReserved)]
    [InlineData(DeployPipeline.CloneRequested)]
    [InlineData(InstanceStates.Cloning)]
    [InlineData(InstanceStates.Configuring)]
    public Task Stopped_after_any_step_the_deploy_converges_after_restart_without_orphans_or_duplicates(string step) =>
        DeployResilienceTests.StoppedAfterStepConvergesAsync(step);
}

/// <summary>Stopped after starting the guests, waiting for their first boot, or finding Home Assistant.</summary>
public sealed class DeployResilienceBootStepsTests
{
    [Theory]
    [InlineData(InstanceStates.Starting)]
    [InlineData(InstanceStates.Waiting)]
    [InlineData(InstanceStates.Locating)]
    public Task Stopped_after_any_step_the_deploy_converges_after_restart_without_orphans_or_duplicates(string step) =>
        DeployResilienceTests.StoppedAfterStepConvergesAsync(step);
}

/// <summary>Stopped while Home Assistant is prepared and its base backup restored.</summary>
public sealed class DeployResilienceRestoreStepsTests
{
    [Theory]
    [InlineData(InstanceStates.Preparing)]
    [InlineData(InstanceStates.Restoring)]
    [InlineData(HomeAssistantSetup.BackupUploaded)]
    [InlineData(HomeAssistantSetup.RestoreRequested)]
    public Task Stopped_after_any_step_the_deploy_converges_after_restart_without_orphans_or_duplicates(string step) =>
        DeployResilienceTests.StoppedAfterStepConvergesAsync(step);
}

/// <summary>Stopped while Home Assistant is secured and the services are wired into it.</summary>
public sealed class DeployResilienceSetupStepsTests
{
    [Theory]
    [InlineData(InstanceStates.Securing)]
    [InlineData(HomeAssistantSetup.AdminRotated)]
    [InlineData(InstanceStates.Wiring)]
    public Task Stopped_after_any_step_the_deploy_converges_after_restart_without_orphans_or_duplicates(string step) =>
        DeployResilienceTests.StoppedAfterStepConvergesAsync(step);
}
