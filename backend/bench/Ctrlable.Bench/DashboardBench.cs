using System.Globalization;
using System.Text.Json.Nodes;
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

    public static async Task<int> RunAsync(int[] clientCounts, TimeSpan duration, bool json)
    {
        if (!json)
        {
            Console.WriteLine($"dashboard benchmark: {duration.TotalSeconds:0} s per run, viewers refresh every {ThinkTime.TotalMilliseconds:0} ms (load generator in its own process)");
            Console.WriteLine("| viewers | mode | dashboard req/s | p50 ms | p99 ms | Proxmox req/s |");
            Console.WriteLine("|---:|---|---:|---:|---:|---:|");
        }

        var shared = new Dictionary<int, double>();
        var rows = new JsonArray();
        foreach (var n in clientCounts)
        {
            var product = await RunProductAsync(n, duration);
            shared[n] = product.ProxmoxPerSecond;
            var baseline = await RunBaselineAsync(n, duration);
            foreach (var (mode, r) in new[] { ("orchestrator (shared poll)", product), ("baseline: each viewer polls Proxmox", baseline) })
            {
                if (!json)
                {
                    Print(n, mode, r);
                }

                rows.Add(new JsonObject
                {
                    ["viewers"] = n,
                    ["mode"] = mode,
                    ["requestsPerSecond"] = Math.Round(r.RequestsPerSecond, 1),
                    ["p50Ms"] = Math.Round(r.P50, 2),
                    ["p99Ms"] = Math.Round(r.P99, 2),
                    ["proxmoxRequestsPerSecond"] = Math.Round(r.ProxmoxPerSecond, 2),
                });
            }
        }

        var first = shared[clientCounts[0]];
        var last = shared[clientCounts[^1]];
        if (json)
        {
            Console.WriteLine(new JsonObject { ["seconds"] = duration.TotalSeconds, ["thinkMs"] = ThinkTime.TotalMilliseconds, ["rows"] = rows, ["proxmoxRateMostOverFewestViewers"] = Math.Round(last / first, 3) }.ToJsonString());
            return 0;
        }

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
        var auth = client.DefaultRequestHeaders.Authorization!;
        return await MeasureAsync(client.BaseAddress!, $"{auth.Scheme} {auth.Parameter}", ["api/dashboard"], viewers, duration, null, sim);
    }

    private static async Task<Result> RunBaselineAsync(int viewers, TimeSpan duration)
    {
        await using var sim = await StartHostAsync();
        var token = sim.Seed(HostSeed()).Tokens[0];
        // What the orchestrator's dashboard fetch asks of Proxmox, done by every viewer itself.
        return await MeasureAsync(sim.BaseAddress, $"PVEAPIToken {token.TokenId}={token.Secret}", ["cluster/resources", "nodes/pve/status"], viewers, duration, sim.CertificateFingerprint, sim);
    }

    private static async Task<Result> MeasureAsync(Uri url, string auth, string[] paths, int viewers, TimeSpan duration, string? fingerprint, PveSimulator sim)
    {
        var r = await ViewerLoad.RunAsync(url, auth, paths, viewers, duration, ThinkTime, fingerprint, () => sim.RequestCount);
        return new Result(r.Requests / r.Seconds, r.P50, r.P99, r.ProxmoxRequests / r.Seconds);
    }
}
