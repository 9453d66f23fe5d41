using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using Ctrlable.PveSim.Tasks;
using Microsoft.Extensions.DependencyInjection;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Bench;

/// <summary>
/// Deploy speed against the emulator with realistic task latencies: orchestrator wall time ÷ the Proxmox
/// critical path, computed from the emulator's own task log (clones of one LXC template run one after another
/// because Proxmox locks the template; each start waits for its clone). Baseline in the same process: a naive
/// sequential deploy (clone, configure, start, one guest after another) through the same Proxmox client.
/// Wall time ends when every guest is started and handed to its first boot (state "waiting").
/// </summary>
internal static class DeployBench
{
    private static readonly string[] StackTypes = ["zwavejs", "zigbee2mqtt", "docker-portainer", "frigate", "freepbx"];

    public static async Task<int> RunAsync(double timingScale, string scenarios)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"deploy benchmark: emulator timing scale {timingScale} (1 = realistic: linked clone 1–3 s, start 1 s)"));
        Console.WriteLine("| scenario | mode | wall s | critical path s | wall ÷ critical path |");
        Console.WriteLine("|---|---|---:|---:|---:|");
        if (scenarios.Contains('a', StringComparison.Ordinal))
        {
            await ScenarioAsync("(a) 5-LXC stack", StackTypes, stack: true, timingScale);
        }

        if (scenarios.Contains('b', StringComparison.Ordinal))
        {
            await ScenarioAsync("(b) 20 add-instance of zigbee2mqtt", [.. Enumerable.Repeat("zigbee2mqtt", 20)], stack: false, timingScale);
        }
        return 0;
    }

    private static async Task ScenarioAsync(string name, IReadOnlyList<string> types, bool stack, double timingScale)
    {
        var orchestrator = await MeasureAsync(types, timingScale, (client, projectId, ct) => OrchestratorDeployAsync(client, projectId, types, stack, ct));
        Print(name, "orchestrator", orchestrator);
        var naive = await MeasureAsync(types, timingScale, null);
        Print(name, "baseline: naive sequential", naive);
    }

    private static void Print(string scenario, string mode, (double Wall, double Critical) r) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {scenario} | {mode} | {r.Wall:0.00} | {r.Critical:0.00} | {r.Wall / r.Critical:0.000} |"));

    private static async Task<(double Wall, double Critical)> MeasureAsync(
        IReadOnlyList<string> types, double timingScale, Func<HttpClient, long, CancellationToken, Task>? orchestratorDeploy)
    {
        await using var sim = await PveSimulator.StartAsync(new PveSimOptions { Version = PveVersion.V9_1, Nodes = ["pve"], TimingScale = timingScale, RandomSeed = 11 });
        var templates = StackTypes.Select((t, i) => new TemplateSeed(9001 + i, t, SimGuestKind.Lxc, 8) { Pool = "ctrlable-templates" }).ToList();
        var token = sim.Seed(LeastPrivilege.Spec(PveVersion.V9_1) with { Templates = templates }).Tokens[0];
        using var orchestrator = new Orchestrator(new()
        {
            ["Proxmox:Url"] = sim.BaseAddress.ToString(),
            ["Proxmox:TokenId"] = token.TokenId,
            ["Proxmox:TokenSecret"] = token.Secret,
            ["Proxmox:CertificateFingerprint"] = sim.CertificateFingerprint,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        using var client = await orchestrator.StartAsync(Role.Operator);
        var now = DateTimeOffset.UtcNow;
        await orchestrator.Services.GetRequiredService<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", null,
            [.. templates.Select(t => new TemplateRow(0, "2026.06", t.Name, "lxc", t.Vmid, "pve", "2026-05-30", null, null, now))], now, CancellationToken.None);
        // Warm-up (JIT, connection pool, first MAC scan), not measured: one guest in a project of its own.
        var warmup = (await (await client.PostAsJsonAsync("/api/projects", new { name = "Warmup" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await OrchestratorDeployAsync(client, warmup, ["freepbx"], stack: false, CancellationToken.None);
        var project = (await (await client.PostAsJsonAsync("/api/projects", new { name = "Bench" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();

        var measuredFrom = DateTimeOffset.UtcNow;
        var wall = Stopwatch.StartNew();
        if (orchestratorDeploy is not null)
        {
            await orchestratorDeploy(client, project, CancellationToken.None);
        }
        else
        {
            await NaiveDeployAsync(orchestrator.Services, sim, types);
        }

        var seconds = wall.Elapsed.TotalSeconds;
        return (seconds, CriticalPathSeconds([.. sim.TaskLog.Where(t => t.Started >= measuredFrom)]));
    }

    private static async Task OrchestratorDeployAsync(HttpClient client, long projectId, IReadOnlyList<string> types, bool stack, CancellationToken ct)
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
    private static double CriticalPathSeconds(IReadOnlyList<TaskRecord> log)
    {
        static double Duration(TaskRecord t) => ((t.Ended ?? t.Started) - t.Started).TotalSeconds;
        var clonesPerTemplate = log.Where(t => t.Type == "vzclone").GroupBy(t => t.Id).Select(g => g.Sum(Duration)).DefaultIfEmpty(0).Max();
        var longestStart = log.Where(t => t.Type == "vzstart").Select(Duration).DefaultIfEmpty(0).Max();
        return clonesPerTemplate + longestStart;
    }
}
