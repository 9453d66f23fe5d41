using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using GuestBootContext = Ctrlable.PveSim.Guests.GuestBootContext;
using GuestKind = Ctrlable.Provisioner.Proxmox.GuestKind;
using IGuestBootBehaviour = Ctrlable.PveSim.Guests.IGuestBootBehaviour;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Bench;

/// <summary>
/// Deploy speed against the emulator with realistic task latencies: orchestrator wall time ÷ the Proxmox
/// critical path, computed from the emulator's own task log (clones of one LXC template run one after another
/// because Proxmox locks the template; each start waits for its clone). Baseline in the same process: a naive
/// sequential deploy (clone, configure, start, one guest after another) through the same Proxmox client.
/// Wall time ends when every guest is started and handed to its first boot (state "waiting"). The orchestrator's
/// guests then run the real first-boot script against it (FirstBootScriptBehaviour); "first boots done" is when
/// every instance is active.
/// </summary>
internal static class DeployBench
{
    private static readonly string[] StackTypes = ["zwavejs", "zigbee2mqtt", "docker-portainer", "frigate", "freepbx"];

    public static async Task<int> RunAsync(double timingScale, string scenarios, bool json)
    {
        if (!json)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"deploy benchmark: emulator timing scale {timingScale} (1 = realistic: linked clone 1–3 s, start 1 s)"));
            Console.WriteLine("| scenario | mode | wall s | critical path s | wall ÷ critical path | first boots done s | Proxmox requests | task polls per task-second |");
            Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|");
        }

        var results = new JsonObject();
        if (scenarios.Contains('a', StringComparison.Ordinal))
        {
            results["a"] = await ScenarioAsync("(a) 5-LXC stack", StackTypes, stack: true, timingScale, json);
        }

        if (scenarios.Contains('b', StringComparison.Ordinal))
        {
            results["b"] = await ScenarioAsync("(b) 20 add-instance of zigbee2mqtt", [.. Enumerable.Repeat("zigbee2mqtt", 20)], stack: false, timingScale, json);
        }

        if (json)
        {
            // One object: a single scenario's figures at the top level, several scenarios keyed by their letter.
            var only = results.Count == 1 ? results.Single().Value! : results;
            Console.WriteLine(only.ToJsonString());
        }

        return 0;
    }

    private static async Task<JsonObject> ScenarioAsync(string name, IReadOnlyList<string> types, bool stack, double timingScale, bool json)
    {
        var orchestrator = await MeasureAsync(types, timingScale, (client, projectId, ct) => OrchestratorDeployAsync(client, projectId, types, stack, ct));
        var naive = await MeasureAsync(types, timingScale, null);
        if (!json)
        {
            Print(name, "orchestrator", orchestrator);
            Print(name, "baseline: naive sequential", naive);
        }

        var result = orchestrator.ToJson();
        result["scenario"] = name;
        result["timingScale"] = timingScale;
        result["baseline"] = naive.ToJson();
        return result;
    }

    private static void Print(string scenario, string mode, Measurement r) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {scenario} | {mode} | {r.Wall:0.00} | {r.Critical:0.00} | {r.Ratio:0.000} | {(r.FirstBoots is { } f ? f.ToString("0.00", CultureInfo.InvariantCulture) : "–")} | {r.ProxmoxRequests} | {r.TaskPollsPerTaskSecond:0.00} |"));

    /// <summary>One deploy's figures; see backend/bench/README.md for each definition.</summary>
    private sealed record Measurement(double Wall, double Critical, double? FirstBoots, long ProxmoxRequests, long TaskPollRequests, double TaskSeconds)
    {
        public double Ratio => Wall / Critical;

        public double TaskPollsPerTaskSecond => TaskSeconds > 0 ? TaskPollRequests / TaskSeconds : 0;

        public JsonObject ToJson() => new()
        {
            ["wallSeconds"] = Math.Round(Wall, 3),
            ["criticalPathSeconds"] = Math.Round(Critical, 3),
            ["ratio"] = Math.Round(Ratio, 4),
            ["firstBootsDoneSeconds"] = FirstBoots is { } f ? Math.Round(f, 3) : null,
            ["proxmoxRequests"] = ProxmoxRequests,
            ["taskPollRequests"] = TaskPollRequests,
            ["taskSeconds"] = Math.Round(TaskSeconds, 3),
            ["taskPollRequestsPerTaskSecond"] = Math.Round(TaskPollsPerTaskSecond, 3),
        };
    }

    private static async Task<Measurement> MeasureAsync(
        IReadOnlyList<string> types, double timingScale, Func<HttpClient, long, CancellationToken, Task>? orchestratorDeploy)
    {
        // The orchestrator's guests run their first boot; the naive baseline's guests have no instance to personalise.
        var boot = new LateBootBehaviour();
        await using var sim = await PveSimulator.StartAsync(new PveSimOptions { Version = PveVersion.V9_1, Nodes = ["pve"], TimingScale = timingScale, RandomSeed = 11, BootBehaviour = boot });
        var templates = StackTypes.Select((t, i) => new TemplateSeed(9001 + i, t, SimGuestKind.Lxc, 8, FirstBoot: orchestratorDeploy is not null) { Pool = "ctrlable-templates" }).ToList();
        var token = sim.Seed(LeastPrivilege.Spec(PveVersion.V9_1) with { Templates = templates }).Tokens[0];
        using var orchestrator = new Orchestrator(new()
        {
            ["Proxmox:Url"] = sim.BaseAddress.ToString(),
            ["Proxmox:TokenId"] = token.TokenId,
            ["Proxmox:TokenSecret"] = token.Secret,
            ["Proxmox:CertificateFingerprint"] = sim.CertificateFingerprint,
            ["Logging:LogLevel:Default"] = "Warning",
            // The secret comes through configuration here on purpose; its "now stored encrypted" warning is noise in the results.
            ["Logging:LogLevel:Ctrlable.Provisioner.Settings.ProxmoxSettingsService"] = "Error",
            // HTTPS for the guests' first boot (pinned certificate), HTTP for the benchmark's client.
            ["Urls"] = "https://127.0.0.1:0;http://127.0.0.1:0",
        });
        using var client = await orchestrator.StartAsync(Role.Operator);
        var now = DateTimeOffset.UtcNow;
        await orchestrator.Services.GetRequiredService<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", null,
            [.. templates.Select(t => new TemplateRow(0, "2026.06", t.Name, "lxc", t.Vmid, "pve", "2026-05-30", null, null, now))], now, CancellationToken.None);
        // As the build would: the release's first-boot secret.
        await orchestrator.Services.GetRequiredService<ReleaseSecrets>().GetOrIssueAsync("2026.06", CancellationToken.None);
        boot.Connect(new FirstBootScriptBehaviour(
            Path.Combine(orchestrator.DataDirectory, "simulated-guests"),
            SimulatedGuestImage.BundledScriptDirectory,
            FirstBootScriptBehaviour.TemplatesOf(orchestrator.Services),
            orchestrator.Services.GetRequiredService<ILoggerFactory>().CreateLogger<FirstBootScriptBehaviour>(),
            // BENCH_TRACE_FIRSTBOOT=DIR: each guest's first-boot script traced with timestamps into DIR/<vmid>.trace.
            new FirstBootScriptOptions { TraceDirectory = Environment.GetEnvironmentVariable("BENCH_TRACE_FIRSTBOOT") is { Length: > 0 } dir ? dir : null }));
        // Warm-up (JIT, connection pool, first MAC scan, a first boot), not measured: one guest in a project of its own.
        var warmup = (await (await client.PostAsJsonAsync("/api/projects", new { name = "Warmup" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await OrchestratorDeployAsync(client, warmup, ["freepbx"], stack: false, CancellationToken.None);
        if (orchestratorDeploy is not null)
        {
            await FirstBootsDoneAsync(client, warmup, CancellationToken.None);
        }
        var project = (await (await client.PostAsJsonAsync("/api/projects", new { name = "Bench" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();

        // Requests to the task endpoints (list, status, log) from the click until every guest is handed to its first boot.
        var requestLog = new DeployRequestLog(sim);
        // When each instance was handed to its first boot and when it became active: the commit of that state change (the
        // orchestrator's own event), not when the loop below, polling every 20 ms, happens to see it.
        var wall = new Stopwatch();
        var handedOver = new ConcurrentDictionary<long, double>();
        var active = new ConcurrentDictionary<long, double>();
        using var changes = orchestrator.Services.GetRequiredService<InstanceChanges>().Subscribe(change =>
        {
            if (change.Instance?.ProjectId != project)
            {
                return;
            }

            var at = wall.Elapsed.TotalSeconds;
            if (change.To is InstanceStates.Waiting or InstanceStates.Personalising or InstanceStates.Active)
            {
                handedOver.TryAdd(change.InstanceId, at);
            }

            if (change.To == InstanceStates.Active)
            {
                active.TryAdd(change.InstanceId, at);
            }
        });
        var requestsBefore = sim.RequestCount;
        var measuredFrom = DateTimeOffset.UtcNow;
        requestLog.Start();
        wall.Start();
        if (orchestratorDeploy is not null)
        {
            await orchestratorDeploy(client, project, CancellationToken.None);
        }
        else
        {
            await NaiveDeployAsync(orchestrator.Services, sim, types);
        }

        var seconds = orchestratorDeploy is not null && handedOver.Count == types.Count ? handedOver.Values.Max() : wall.Elapsed.TotalSeconds;
        requestLog.Stop();
        var measured = sim.TaskLog.Where(t => t.Started >= measuredFrom).ToList();
        var critical = CriticalPathSeconds(measured);
        requestLog.WriteTasks(measured, measuredFrom);

        var taskSeconds = measured.Sum(t => ((t.Ended ?? DateTimeOffset.UtcNow) - t.Started).TotalSeconds);
        double? firstBoots = null;
        if (orchestratorDeploy is not null)
        {
            await FirstBootsDoneAsync(client, project, CancellationToken.None);
            firstBoots = active.Count == types.Count ? active.Values.Max() : wall.Elapsed.TotalSeconds;
            if (requestLog.Trace)
            {
                foreach (var b in sim.BootLog.Where(b => b.Started >= measuredFrom))
                {
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first boot {b.Vmid} {(b.Started - measuredFrom).TotalSeconds:0.000}–{(b.Finished - measuredFrom).TotalSeconds:0.000}"));
                }
            }
        }

        return new Measurement(seconds, critical, firstBoots, sim.RequestCount - requestsBefore, requestLog.TaskRequests, taskSeconds);
    }

    /// <summary>Until every instance of the project is active: its guest ran the first-boot script and reported complete.</summary>
    private static async Task FirstBootsDoneAsync(HttpClient client, long projectId, CancellationToken ct)
    {
        while (true)
        {
            var instances = (await client.GetFromJsonAsync<JsonElement>($"/api/projects/{projectId}", ct)).GetProperty("instances").EnumerateArray().ToList();
            if (instances.Any(i => i.GetProperty("state").GetString() == "failed"))
            {
                throw new InvalidOperationException("a first boot failed: " + string.Join("; ", instances.Select(i => i.GetProperty("error").ToString())));
            }

            if (instances.All(i => i.GetProperty("state").GetString() == "active"))
            {
                return;
            }

            await Task.Delay(20, ct);
        }
    }

    /// <summary>A boot behaviour set once the orchestrator it talks to is up; guests that boot earlier wait for it.</summary>
    private sealed class LateBootBehaviour : IGuestBootBehaviour
    {
        private readonly TaskCompletionSource<IGuestBootBehaviour> _inner = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Connect(IGuestBootBehaviour behaviour) => _inner.SetResult(behaviour);

        public async Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken) =>
            await (await _inner.Task.WaitAsync(cancellationToken)).RunFirstBootAsync(context, cancellationToken);
    }

    internal static async Task OrchestratorDeployAsync(HttpClient client, long projectId, IReadOnlyList<string> types, bool stack, CancellationToken ct)
    {
        if (stack)
        {
            (await client.PostAsJsonAsync($"/api/projects/{projectId}/deploy", new { types }, ct)).EnsureSuccessStatusCode();
        }
        else
        {
            foreach (var response in await Task.WhenAll(types.Select(t => client.PostAsJsonAsync($"/api/projects/{projectId}/instances", new { type = t }, ct))))
            {
                response.EnsureSuccessStatusCode();
            }
        }

        while (true)
        {
            var instances = (await client.GetFromJsonAsync<JsonElement>($"/api/projects/{projectId}", ct)).GetProperty("instances").EnumerateArray().ToList();
            if (instances.Any(i => i.GetProperty("state").GetString() == "failed"))
            {
                throw new InvalidOperationException("a deploy failed: " + string.Join("; ", instances.Select(i => i.GetProperty("error").ToString())));
            }

            if (instances.Count == types.Count && instances.All(i => i.GetProperty("state").GetString() is "waiting" or "personalising" or "active"))
            {
                return;
            }

            await Task.Delay(20, ct);
        }
    }

    /// <summary>What a straightforward script would do: one guest after another, each clone, configure and start in turn.</summary>
    private static async Task NaiveDeployAsync(IServiceProvider services, PveSimulator sim, IReadOnlyList<string> types)
    {
        var proxmox = services.GetRequiredService<ProxmoxClient>();
        var tasks = services.GetRequiredService<ProxmoxTasks>();
        var ct = CancellationToken.None;
        var n = 0;
        foreach (var type in types)
        {
            var template = StackTypes.ToList().IndexOf(type) + 9001;
            var vmid = 2000 + n++;
            var clone = await proxmox.CloneAsync("pve", GuestKind.Lxc, template, new CloneRequest(vmid, $"naive-{type}-{n}", Pool: "ctrlable"), ct);
            await tasks.WaitAsync("pve", clone, TimeSpan.FromMinutes(5), ct);
            var config = await proxmox.GetGuestConfigAsync("pve", GuestKind.Lxc, vmid, ct);
            await proxmox.UpdateConfigAsync("pve", GuestKind.Lxc, vmid, new Dictionary<string, string> { ["net0"] = config["net0"], ["hostname"] = $"naive-{type}-{n}" }, null, null, ct);
            await tasks.WaitAsync("pve", await proxmox.StartAsync("pve", GuestKind.Lxc, vmid, ct), TimeSpan.FromMinutes(5), ct);
        }

        _ = sim;
    }

    /// <summary>
    /// The longest chain of tasks that must run one after another, from the emulator's task log: the clones of one
    /// LXC template (Proxmox's lock on the template serialises them) followed by a start; starts of different guests
    /// are independent. Uses the durations the emulator actually spent on each task.
    /// </summary>
    internal static double CriticalPathSeconds(IReadOnlyList<TaskRecord> log)
    {
        static double Duration(TaskRecord t) => ((t.Ended ?? t.Started) - t.Started).TotalSeconds;
        var clonesPerTemplate = log.Where(t => t.Type == "vzclone").GroupBy(t => t.Id).Select(g => g.Sum(Duration)).DefaultIfEmpty(0).Max();
        var longestStart = log.Where(t => t.Type == "vzstart").Select(Duration).DefaultIfEmpty(0).Max();
        return clonesPerTemplate + longestStart;
    }
}
