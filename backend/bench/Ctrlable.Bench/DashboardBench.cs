using System.Diagnostics;
using System.Globalization;
using Ctrlable.Provisioner.Auth;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Bench;

/// <summary>
/// N concurrent dashboard viewers for a fixed time against the orchestrator, which polls the emulator.
/// Measures the Proxmox request rate (from the emulator's own counter) and the viewers' latency.
/// Baseline in the same run: the same N viewers each polling Proxmox directly (what every open dashboard
/// would cost without the orchestrator's shared poll).
/// </summary>
internal static class DashboardBench
{
    // A browser dashboard refreshes every 5 s; viewers here refresh every 250 ms to stress the sharing.
    private static readonly TimeSpan ThinkTime = TimeSpan.FromMilliseconds(250);

    public static async Task<int> RunAsync(int[] clientCounts, TimeSpan duration)
    {
        Console.WriteLine($"dashboard benchmark: {duration.TotalSeconds:0} s per run, viewers refresh every {ThinkTime.TotalMilliseconds:0} ms");
        Console.WriteLine("| viewers | mode | dashboard req/s | p50 ms | p99 ms | Proxmox req/s |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|");
        var shared = new Dictionary<int, double>();
        foreach (var n in clientCounts)
        {
            var product = await RunProductAsync(n, duration);
            shared[n] = product.ProxmoxPerSecond;
            Print(n, "orchestrator (shared poll)", product);
            var baseline = await RunBaselineAsync(n, duration);
            Print(n, "baseline: each viewer polls Proxmox", baseline);
        }

        var first = shared[clientCounts[0]];
        var last = shared[clientCounts[^1]];
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Proxmox req/s with {clientCounts[^1]} viewers ÷ with {clientCounts[0]}: {last / first:0.00} (flat = 1.00)"));
        return 0;
    }

    private static void Print(int n, string mode, Result r) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {n} | {mode} | {r.RequestsPerSecond:0.0} | {r.P50:0.0} | {r.P99:0.0} | {r.ProxmoxPerSecond:0.0} |"));

    private sealed record Result(double RequestsPerSecond, double P50, double P99, double ProxmoxPerSecond);

    internal static async Task<PveSimulator> StartHostAsync()
    {
        var sim = await PveSimulator.StartAsync(new PveSimOptions { Version = PveVersion.V9_1, Nodes = ["pve"], RandomSeed = 1 });
        return sim;
    }

    internal static SeedSpec HostSeed() => LeastPrivilege.Spec(PveVersion.V9_1, tokenSecret: "00000000-0000-4000-8000-000000000001") with
    {
        Templates = [new TemplateSeed(9001, "zwavejs", SimGuestKind.Lxc, 8) { Pool = "ctrlable-templates" }],
        Guests = [.. Enumerable.Range(0, 12).Select(i => new TemplateSeed(200 + i, $"guest-{i}", SimGuestKind.Lxc, 8) { Pool = "ctrlable", Running = true })],
    };

    private static async Task<Result> RunProductAsync(int viewers, TimeSpan duration)
    {
        await using var sim = await StartHostAsync();
        var token = sim.Seed(HostSeed()).Tokens[0];
        using var orchestrator = new Orchestrator(new()
        {
            ["Proxmox:Url"] = sim.BaseAddress.ToString(),
            ["Proxmox:TokenId"] = token.TokenId,
            ["Proxmox:TokenSecret"] = token.Secret,
            ["Proxmox:CertificateFingerprint"] = sim.CertificateFingerprint,
            ["Logging:LogLevel:Default"] = "Warning",
            // The secret comes through configuration here on purpose; its "now stored encrypted" warning is noise in the results.
            ["Logging:LogLevel:Ctrlable.Provisioner.Settings.ProxmoxSettingsService"] = "Error",
        });
        using var client = await orchestrator.StartAsync(Role.Viewer);
        (await client.GetAsync("/api/dashboard")).EnsureSuccessStatusCode(); // warm-up
        return await MeasureAsync(viewers, duration, sim, async ct =>
        {
            using var response = await client.GetAsync("/api/dashboard", ct);
            response.EnsureSuccessStatusCode();
        });
    }

    private static async Task<Result> RunBaselineAsync(int viewers, TimeSpan duration)
    {
        await using var sim = await StartHostAsync();
        var token = sim.Seed(HostSeed()).Tokens[0];
        using var http = sim.CreateClient(token);
        return await MeasureAsync(viewers, duration, sim, async ct =>
        {
            // What the orchestrator's dashboard fetch asks of Proxmox, done by every viewer itself.
            using var resources = await http.GetAsync("cluster/resources", ct);
            resources.EnsureSuccessStatusCode();
            using var status = await http.GetAsync("nodes/pve/status", ct);
            status.EnsureSuccessStatusCode();
        });
    }

    private static async Task<Result> MeasureAsync(int viewers, TimeSpan duration, PveSimulator sim, Func<CancellationToken, Task> view)
    {
        using var stop = new CancellationTokenSource(duration);
        var latencies = new List<double>[viewers];
        var startRequests = sim.RequestCount;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, viewers).Select(async i =>
        {
            var mine = latencies[i] = [];
            // Spread the viewers' phases like real browsers opened at different moments.
            await Task.Delay(TimeSpan.FromMilliseconds(ThinkTime.TotalMilliseconds * i / viewers));
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await view(stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }

                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                try
                {
                    await Task.Delay(ThinkTime, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }));
        var seconds = clock.Elapsed.TotalSeconds;
        var proxmox = sim.RequestCount - startRequests;
        var all = latencies.SelectMany(l => l).Order().ToList();
        return new Result(all.Count / seconds, Stats.Percentile(all, 50), Stats.Percentile(all, 99), proxmox / seconds);
    }
}
