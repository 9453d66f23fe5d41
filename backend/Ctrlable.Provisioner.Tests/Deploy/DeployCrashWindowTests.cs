using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Tasks;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// The orchestrator as a real process, killed with SIGKILL in the windows the in-process stop points never reach:
/// Proxmox has carried a request out and answered it, but the orchestrator has not recorded that yet. The emulator
/// freezes the process (SIGSTOP) when the request arrives, carries it out and answers, and the test then kills the
/// process; a second process resumes on the same database and the same HTTPS port, as a restarted service would.
/// </summary>
public sealed partial class DeployCrashWindowTests
{
    [Theory]
    [InlineData("ctrlable-pro")] // QEMU: a second start fails in its task, "VM N already running"
    [InlineData("zwavejs")] // LXC: a second start is refused at once, "CT N already running"
    public async Task Killed_after_proxmox_accepted_the_start_the_restarted_orchestrator_waits_for_that_start_and_never_starts_again(string type)
    {
        await using var site = await CrashSite.StartAsync("startwindow");
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new TaskCompletionSource<SimTask>(TaskCreationOptions.RunContinuationsAsynchronously);
        // The first start stays running until the restarted orchestrator has shown what it does about it.
        site.Pve.Sim.Tasks.Gate = task => task.Upid.Type is "qmstart" or "vzstart" && held.TrySetResult(task) ? hold.Task : Task.CompletedTask;
        try
        {
            await using (var first = await site.StartOrchestratorAsync())
            {
                var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                site.Pve.Sim.Intercept = async (call, next) =>
                {
                    if (IsStart(call) && !answered.Task.IsCompleted)
                    {
                        await first.FreezeAsync();
                        await next();
                        answered.TrySetResult();
                        return;
                    }

                    await next();
                };
                await site.DeployAsync(first, type);
                await answered.Task.WaitAsync(TimeSpan.FromSeconds(90));
                await first.KillAsync();
            }

            var firstStart = await held.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var row = await site.InstanceRowAsync();
            row.State.Should().Be(InstanceStates.Starting);
            row.Upid.Should().BeNull("the orchestrator was killed after Proxmox accepted the start, before it recorded the UPID");
            firstStart.Running.Should().BeTrue();

            // Whichever comes first from the restarted orchestrator — a look at the guest's running tasks, or a start of
            // its own — the first start ends then (ahead of any second one, as it had the head start): the same race each run.
            var startsAfterRestart = 0;
            site.Pve.Sim.Intercept = async (call, next) =>
            {
                if (IsStart(call))
                {
                    Interlocked.Increment(ref startsAfterRestart);
                    hold.TrySetResult();
                    await firstStart.Completion;
                }

                await next();
                if (call.Method == "GET" && call.Path == "/nodes/pve1/tasks")
                {
                    hold.TrySetResult();
                }
            };
            await using var second = await site.StartOrchestratorAsync();
            var instance = await site.SettledAsync(second);

            instance.GetProperty("state").GetString().Should().Be("active", $"{instance.GetProperty("error")}\n{second.Output}");
            startsAfterRestart.Should().Be(0, "the restarted orchestrator waits for the start it had asked for instead of asking again");
            var vmid = instance.GetProperty("vmid").GetInt32();
            site.Pve.Sim.TaskLog.Where(t => t.Type is "qmstart" or "vzstart" && t.Id == vmid.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .Should().ContainSingle().Which.Succeeded.Should().BeTrue();
            site.ShouldHaveOnly(vmid);
            if (type == "ctrlable-pro")
            {
                site.Pve.Sim.HomeAssistant(vmid)!.State.UploadedBackups.Should().HaveCount(1, "Home Assistant is restored, once");
            }
        }
        finally
        {
            hold.TrySetResult();
        }
    }

    [Fact]
    public async Task Killed_after_proxmox_applied_the_config_the_restarted_orchestrator_converges_with_the_same_identity()
    {
        await using var site = await CrashSite.StartAsync("configwindow");
        await using (var first = await site.StartOrchestratorAsync())
        {
            var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            site.Pve.Sim.Intercept = async (call, next) =>
            {
                if (call.Method == "PUT" && GuestConfig().IsMatch(call.Path) && !applied.Task.IsCompleted)
                {
                    await first.FreezeAsync();
                    await next();
                    applied.TrySetResult();
                    return;
                }

                await next();
            };
            await site.DeployAsync(first, "zwavejs");
            await applied.Task.WaitAsync(TimeSpan.FromSeconds(90));
            await first.KillAsync();
        }

        site.Pve.Sim.Intercept = null;
        var row = await site.InstanceRowAsync();
        row.State.Should().Be(InstanceStates.Configuring, "the orchestrator was killed after Proxmox applied the config, before it recorded the step");
        var configured = site.Pve.Sim.State.Guests[(int)row.Vmid!.Value];
        configured.Config["net0"].Should().Contain(row.Mac!, "the config with the recorded MAC was applied before the kill");

        await using var second = await site.StartOrchestratorAsync();
        var instance = await site.SettledAsync(second);

        instance.GetProperty("state").GetString().Should().Be("active", $"{instance.GetProperty("error")}\n{second.Output}");
        instance.GetProperty("vmid").GetInt64().Should().Be(row.Vmid.Value);
        instance.GetProperty("mac").GetString().Should().Be(row.Mac, "the restart applies the MAC it recorded, not a new one");
        var guest = site.Pve.Sim.State.Guests[(int)row.Vmid.Value];
        guest.Config["net0"].Should().Contain(row.Mac!);
        guest.Config["hostname"].Should().Be(instance.GetProperty("hostname").GetString());
        instance.GetProperty("installedVersions").GetProperty("firstboot").GetString().Should().NotBeNullOrEmpty("the guest ran its first boot against the restarted orchestrator and reported it");
        site.ShouldHaveOnly((int)row.Vmid.Value);
    }

    private static bool IsStart(SimApiCall call) => call.Method == "POST" && call.Path.EndsWith("/status/start", StringComparison.Ordinal);

    [GeneratedRegex("^/nodes/pve1/(lxc|qemu)/[0-9]+/config$")]
    private static partial Regex GuestConfig();

    internal sealed record Row(string State, string? Upid, string? Mac, long? Vmid);

    /// <summary>
    /// An emulated Proxmox host (with another admin's guests) and a data directory prepared as a build and a dealer would
    /// leave it: the release active with its templates, first-boot secret and Home Assistant base backup, an operator's API
    /// token and one project. Orchestrator processes started on it serve on the same URLs each time; the emulator's guests
    /// run the real first-boot script against whichever is up.
    /// </summary>
    private sealed class CrashSite : IAsyncDisposable
    {
        private readonly Dictionary<string, string?> _settings;
        private readonly string _urls;
        private readonly Uri _http;
        private readonly ForeignGuests.Snapshot _foreign;

        private CrashSite(ProxmoxHarness pve, string data, Dictionary<string, string?> settings, string urls, Uri http, string token, long project)
        {
            Pve = pve;
            Data = data;
            _settings = settings;
            _urls = urls;
            _http = http;
            Token = token;
            Project = project;
            _foreign = ForeignGuests.Capture(pve.Sim);
        }

        public ProxmoxHarness Pve { get; }
        public string Data { get; }
        public string Token { get; }
        public long Project { get; }

        public static async Task<CrashSite> StartAsync(string purpose)
        {
            var boot = new DeferredBootBehaviour();
            var pve = await ProxmoxHarness.StartAsync(bootBehaviour: boot, foreignGuests: true);
            var data = TempDirectory.Create(purpose);
            var http = new Uri($"http://127.0.0.1:{TestPorts.Free()}");
            var urls = $"https://127.0.0.1:{TestPorts.Free()};{http.GetLeftPart(UriPartial.Authority)}";
            var settings = ProvisionerApp.ProxmoxSettings(pve);
            settings["Storage:DataDirectory"] = data;
            settings["Storage:ReleasesDirectory"] = RepoPaths.Releases;
            settings["Deploy:FirstBootTimeoutSeconds"] = "300";

            string token;
            long project;
            FirstBootEnvironment environment;
            using (var prepare = new ProvisionerApp(dataDirectory: data, settings: new Dictionary<string, string?>(settings) { ["Urls"] = urls }, https: true))
            {
                await prepare.EnsureSetUpAsync();
                var now = DateTimeOffset.UtcNow;
                await prepare.Service<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", null,
                [
                    new TemplateRow(0, "2026.06", "zwavejs", "lxc", ProxmoxHarness.LxcTemplate, "pve1", "2026-05-30", null, "9.x", now),
                    new TemplateRow(0, "2026.06", "ctrlable-pro", "vm", ProxmoxHarness.QemuTemplate, "pve1", "2026-05-30", null, null, now),
                ], now, CancellationToken.None);
                await prepare.Service<ReleaseSecrets>().GetOrIssueAsync("2026.06", CancellationToken.None);
                await TestBaseBackup.StoreAsync(prepare);
                token = await prepare.CreateTokenAsync(Role.Operator);
                using (var client = prepare.CreateTokenClient(token))
                {
                    project = await DeployApiTests.CreateProjectAsync(client, "Crash");
                }

                // What the release's build bakes into the zwavejs template: this host's HTTPS URL, its certificate, the secret.
                _ = prepare.HttpsAddress;
                environment = (await prepare.Service<FirstBootEnvironments>().ForTemplateAsync("2026.06", "zwavejs", CancellationToken.None))!;
            }

            boot.Connect(new FirstBootScriptBehaviour(Path.Combine(data, "simulated-guests"), FirstBootHarness.ScriptDirectory,
                (context, _) => Task.FromResult<SimulatedTemplate?>(context.TemplateVmid == ProxmoxHarness.LxcTemplate ? new SimulatedTemplate("zwavejs", environment) : null),
                NullLogger.Instance));
            return new CrashSite(pve, data, settings, urls, http, token, project);
        }

        public Task<OrchestratorProcess> StartOrchestratorAsync() => OrchestratorProcess.StartAsync(_settings, _urls, _http);

        public async Task DeployAsync(OrchestratorProcess orchestrator, string type)
        {
            using var client = orchestrator.CreateClient(Token);
            var response = await client.PostAsJsonAsync($"/api/projects/{Project}/instances", new { type });
            response.EnsureSuccessStatusCode();
        }

        /// <summary>The instance once it is active or failed, as the orchestrator's API shows it.</summary>
        public async Task<JsonElement> SettledAsync(OrchestratorProcess orchestrator)
        {
            using var client = orchestrator.CreateClient(Token);
            return (await DeployApiTests.WaitForAsync(client, Project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromSeconds(120))).Single();
        }

        /// <summary>The instance's row as the killed orchestrator left it.</summary>
        public async Task<Row> InstanceRowAsync()
        {
            await using var connection = new SqliteConnection($"Data Source={Path.Combine(Data, "provisioner.db")};Pooling=False");
            await connection.OpenAsync();
            return await connection.QuerySingleAsync<Row>("SELECT state AS State, upid AS Upid, mac AS Mac, vmid AS Vmid FROM instances;");
        }

        /// <summary>The product's pool holds the instance's guest and the admin's, nothing else; the admin's are untouched.</summary>
        public void ShouldHaveOnly(int vmid)
        {
            Pve.Sim.State.Access.Pools["ctrlable"].Vms.Except(ForeignGuests.Vmids).Should().Equal(new[] { vmid }, "no orphan or duplicate guest is left");
            _foreign.ShouldBeUntouched(Pve.Sim);
        }

        public async ValueTask DisposeAsync()
        {
            Pve.Sim.Intercept = null;
            await Pve.DisposeAsync();
            TempDirectory.TryDelete(Data);
        }
    }
}
