using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Ctrlable.Bench;

/// <summary>
/// Memory of the product in real mode: <c>dotnet Ctrlable.Provisioner.dll</c> (the product alone, no emulator loaded) as
/// its own process, its Proxmox host the emulator in this process (seeded as the dashboard benchmark seeds it), under N
/// dashboard viewers that each refresh every 250 ms. Reports the process's resident set (VmRSS) once serving, while the
/// viewers run (sampled each second), its peak (VmHWM) before the viewers (start-up, sign-in, one dashboard) and over
/// the whole run, what the largest sample is made of (GC heaps and native allocations, mapped assemblies, the runtime's
/// double-mapped code and loader heaps) and the viewers' latency.
/// <c>--app DIR</c> measures a published bundle's <c>app/</c> (self-contained, ReadyToRun, its own runtimeconfig) instead
/// of the benchmark's build; <c>--baseline-env K=V,…</c> first runs the same product with those runtime variables
/// (e.g. <c>DOTNET_gcServer=1</c>), <c>--baseline-app DIR</c> another published <c>app/</c> (e.g. the previous bundle),
/// so both rows and their latency ratio come from one run; <c>--rounds N</c> alternates the two N times. Start-up is the time from starting the process until it
/// serves <c>/healthz</c>.
/// </summary>
internal static class MemoryBench
{
    private static readonly TimeSpan ThinkTime = TimeSpan.FromMilliseconds(250);
    private const string Admin = "bench";
    private const string Password = "memory-Passw0rd-orchestrator-rss";

    public static async Task<int> RunAsync(int viewers, TimeSpan duration, string? app, string? baselineEnvironment, string? baselineApp, int rounds)
    {
        var product = app is null ? Product.Build() : Product.Published(Path.GetFullPath(app));
        var overrides = (baselineEnvironment ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        var baseline = baselineEnvironment is null && baselineApp is null ? null : baselineApp is null ? product : Product.Published(Path.GetFullPath(baselineApp));
        var baselineLabel = "baseline: " + string.Join(", ", new[] { baselineApp, baselineEnvironment }.OfType<string>());
        // Rounds alternate baseline and as built, so a machine whose load drifts weighs on both alike.
        var rows = new List<(string Label, Measurement Result)>();
        var ratios = new List<(double Peak, double P99, double StartUp)>();
        for (var round = 1; round <= rounds; round++)
        {
            var suffix = rounds > 1 ? $" (round {round})" : "";
            Measurement? before = null;
            if (baseline is not null)
            {
                before = await MeasureAsync(baseline, overrides, viewers, duration);
                rows.Add((baselineLabel + suffix, before));
            }

            var built = await MeasureAsync(product, [], viewers, duration);
            rows.Add(("as built" + suffix, built));
            if (before is not null)
            {
                ratios.Add((built.Peak / (double)before.Peak, built.LatencyP99 / before.LatencyP99, built.StartUp / before.StartUp));
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memory benchmark: the product ({product.Describe}, real mode) under {viewers} dashboard viewers for {duration.TotalSeconds:0} s"));
        Console.WriteLine("| run | start-up s | req/s | RSS serving, before viewers MB | peak before viewers (VmHWM) MB | with viewers p50 MB | with viewers max MB | peak (VmHWM) MB | at max: anonymous MB | at max: files MB | at max: shared (double-mapped code) MB | at max: threads | p50 ms | p99 ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (label, m) in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {m.StartUp.TotalSeconds:0.00} | {m.RequestsPerSecond:0} | {Mb(m.Serving):0.0} | {Mb(m.ServingPeak):0.0} | {Mb(m.P50):0.0} | {Mb(m.Max.VmRss):0.0} | {Mb(m.Peak):0.0} | {Mb(m.Max.RssAnon):0.0} | {Mb(m.Max.RssFile):0.0} | {Mb(m.Max.RssShmem):0.0} | {m.Max.Threads} | {m.LatencyP50:0.0} | {m.LatencyP99:0.0} |"));
        }

        foreach (var (label, m) in rows)
        {
            Console.WriteLine($"{label}: resident at the end, largest mappings (/proc/PID/smaps, MB): " +
                string.Join(", ", m.Parts.Take(16).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Mapping} {Mb(p.Kb):0.0}"))));
            // What the viewers added: the mappings that grew most from serving (before the viewers) to the end.
            var before = m.ServingParts.ToDictionary(p => p.Mapping, p => p.Kb);
            var grown = m.Parts.Select(p => (p.Mapping, Kb: p.Kb - before.GetValueOrDefault(p.Mapping))).Where(p => p.Kb > 0).OrderByDescending(p => p.Kb);
            Console.WriteLine($"{label}: grown while the viewers ran (MB): " +
                string.Join(", ", grown.Take(10).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Mapping} +{Mb(p.Kb):0.0}"))));
        }

        foreach (var (r, i) in ratios.Select((r, i) => (r, i)))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"as built ÷ baseline{(rounds > 1 ? $", round {i + 1}" : "")}: peak RSS {r.Peak:0.00}, p99 latency {r.P99:0.00}, start-up {r.StartUp:0.00}"));
        }

        if (ratios.Count > 1)
        {
            static double Median(IEnumerable<double> values) => values.Order().ToList() is var sorted && sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"as built ÷ baseline, median of {ratios.Count} rounds: peak RSS {Median(ratios.Select(r => r.Peak)):0.00}, p99 latency {Median(ratios.Select(r => r.P99)):0.00}, start-up {Median(ratios.Select(r => r.StartUp)):0.00}"));
        }

        return 0;
    }

    /// <summary>How the product is started: the benchmark's framework-dependent build, or a published self-contained app.</summary>
    private sealed record Product(string FileName, string[] Prefix, string WorkingDirectory, string Describe)
    {
        public static Product Build() => new("dotnet", [Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.dll")], AppContext.BaseDirectory, "dotnet Ctrlable.Provisioner.dll");

        public static Product Published(string app) => new(Path.Combine(app, "Ctrlable.Provisioner"), [], app, $"{Path.Combine(app, "Ctrlable.Provisioner")}, self-contained");
    }

    private sealed record Sample(long VmRss, long RssAnon, long RssFile, long RssShmem, long Threads);

    private sealed record Measurement(TimeSpan StartUp, double RequestsPerSecond, long Serving, long ServingPeak, long P50, Sample Max, long Peak, double LatencyP50, double LatencyP99, IReadOnlyList<(string Mapping, long Kb)> Parts, IReadOnlyList<(string Mapping, long Kb)> ServingParts);

    private static async Task<Measurement> MeasureAsync(Product app, Dictionary<string, string> overrides, int viewers, TimeSpan duration)
    {
        await using var sim = await DashboardBench.StartHostAsync();
        var token = sim.Seed(DashboardBench.HostSeed()).Tokens[0];
        var data = Path.Combine(Path.GetTempPath(), "ctrlable-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        var port = FreePort();
        var settings = new Dictionary<string, string>
        {
            ["STORAGE__DATADIRECTORY"] = data,
            ["PROXMOX__URL"] = sim.BaseAddress.ToString(),
            ["PROXMOX__TOKENID"] = token.TokenId,
            ["PROXMOX__TOKENSECRET"] = token.Secret,
            ["PROXMOX__CERTIFICATEFINGERPRINT"] = sim.CertificateFingerprint,
            ["LOGGING__LOGLEVEL__DEFAULT"] = "Warning",
        };
        try
        {
            using (var create = Start(app, settings, overrides, ["--create-admin", Admin]))
            {
                await create.WaitForExitAsync();
                if (create.ExitCode != 0)
                {
                    throw new InvalidOperationException($"--create-admin failed: {Output(create)}");
                }
            }

            var starting = Stopwatch.GetTimestamp();
            using var product = Start(app, settings, overrides, ["--urls", $"http://127.0.0.1:{port}"]);
            try
            {
                using var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
                await WaitUntilServingAsync(client, product);
                var startUp = Stopwatch.GetElapsedTime(starting);
                await SignInAsync(client);
                (await client.GetAsync("/api/dashboard")).EnsureSuccessStatusCode(); // warm-up
                var serving = Rss(product.Id, "VmRSS");
                // The high-water mark so far: start-up, sign-in and one dashboard. VmHWM after the viewers is the whole
                // run's; when it is higher, the peak came while they were served.
                var servingPeak = Rss(product.Id, "VmHWM");
                var servingParts = Smaps(product.Id);

                var samples = new List<Sample>();
                using var stop = new CancellationTokenSource(duration);
                var sampler = Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        var status = Status(product.Id);
                        samples.Add(new Sample(status["VmRSS"], status["RssAnon"], status["RssFile"], status["RssShmem"], status["Threads"]));
                        await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                    }
                });
                var latencies = new List<double>[viewers];
                await Task.WhenAll(Enumerable.Range(0, viewers).Select(async i =>
                {
                    latencies[i] = [];
                    await Task.Delay(TimeSpan.FromMilliseconds(ThinkTime.TotalMilliseconds * i / viewers));
                    while (!stop.IsCancellationRequested)
                    {
                        var started = Stopwatch.GetTimestamp();
                        using (var response = await client.GetAsync("/api/dashboard"))
                        {
                            response.EnsureSuccessStatusCode();
                        }

                        latencies[i].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        await Task.Delay(ThinkTime);
                    }
                }));
                await sampler;
                // Resident set: anonymous (GC heaps, native allocations, thread stacks), files (mapped assemblies and
                // native libraries) and shared memory (the runtime's W^X double mapping of JIT code and loader heaps).
                var peak = Rss(product.Id, "VmHWM");
                var parts = Smaps(product.Id);
                var all = latencies.SelectMany(l => l).Order().ToList();
                var byRss = samples.OrderBy(x => x.VmRss).ToList();
                return new Measurement(startUp, all.Count / duration.TotalSeconds, serving, servingPeak, byRss[byRss.Count / 2].VmRss, byRss[^1], peak,
                    Stats.Percentile(all, 50), Stats.Percentile(all, 99), parts, servingParts);
            }
            finally
            {
                product.Kill();
                await product.WaitForExitAsync();
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, System.Collections.Concurrent.ConcurrentQueue<string>> Outputs = [];

    private static string Output(Process process)
    {
        process.WaitForExit(); // the streams' last lines are read
        return Outputs.TryGetValue(process, out var lines) ? string.Join(Environment.NewLine, lines) : "";
    }

    private static double Mb(long kb) => kb / 1024.0;

    /// <summary>Resident kB per mapping (a file's name; anonymous memory and the runtime's double-mapped memfd by kind), largest first.</summary>
    private static List<(string Mapping, long Kb)> Smaps(int pid)
    {
        var resident = new Dictionary<string, long>();
        var mapping = "";
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-', StringComparison.Ordinal) && !fields[0].EndsWith(':'))
            {
                // "start-end perms offset dev inode [path]": a new mapping.
                mapping = fields.Length > 5 ? Path.GetFileName(string.Join(' ', fields[5..])) : Anonymous(fields[0]);
                mapping = mapping.Length == 0 ? string.Join(' ', fields[5..]) : mapping;
            }
            else if (fields is ["Rss:", var kb, "kB"])
            {
                resident[mapping] = resident.GetValueOrDefault(mapping) + long.Parse(kb, CultureInfo.InvariantCulture);
            }
        }

        return [.. resident.Where(r => r.Value > 0).Select(r => (r.Key, r.Value)).OrderByDescending(r => r.Value)];
    }

    /// <summary>
    /// Anonymous mappings grouped by their size. A mapping splits where its protection changes, so a committed part of
    /// a reservation is its own mapping: 1–32 MB are mostly the GC's committed heap and malloc arenas' used parts, below
    /// 1 MB small allocations and thread stacks' used pages.
    /// </summary>
    private static string Anonymous(string range)
    {
        var bounds = range.Split('-');
        var size = Convert.ToUInt64(bounds[1], 16) - Convert.ToUInt64(bounds[0], 16);
        return size switch
        {
            >= 1UL << 30 => "[anonymous ≥ 1 GB]",
            >= 32UL << 20 => "[anonymous 32 MB–1 GB]",
            >= 1UL << 20 => "[anonymous 1–32 MB]",
            _ => "[anonymous < 1 MB]",
        };
    }

    /// <summary>A line of /proc/PID/status: kB (VmRSS: now; VmHWM: the peak; RssAnon/RssFile/RssShmem: VmRSS's parts).</summary>
    private static long Rss(int pid, string field) => Status(pid)[field];

    /// <summary>/proc/PID/status read once: each numeric field's first number (kB for the memory fields, a count for Threads).</summary>
    private static Dictionary<string, long> Status(int pid)
    {
        var fields = new Dictionary<string, long>();
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && long.TryParse(line[(colon + 1)..].Trim().Split(' ', '\t')[0], CultureInfo.InvariantCulture, out var value))
            {
                fields[line[..colon]] = value;
            }
        }

        return fields;
    }

    private static Process Start(Product app, Dictionary<string, string> settings, Dictionary<string, string> overrides, string[] args)
    {
        var start = new ProcessStartInfo(app.FileName) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = app.WorkingDirectory };
        foreach (var arg in app.Prefix.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("CTRLABLE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(inherited);
        }

        foreach (var (key, value) in settings)
        {
            start.Environment["CTRLABLE_" + key] = value;
        }

        // Runtime settings come from the product's runtimeconfig.json unless a baseline overrides them.
        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal) && k is not "DOTNET_ROOT").ToList())
        {
            start.Environment.Remove(inherited);
        }

        foreach (var (key, value) in overrides)
        {
            start.Environment[key] = value;
        }

        start.Environment["CTRLABLE_ADMIN_PASSWORD"] = Password;
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        // Drained so a chatty process never blocks on a full pipe.
        // Both streams drained (a chatty process never blocks on a full pipe); the last lines kept for an error message.
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Outputs.Add(process, output);
        DataReceivedEventHandler keep = (_, e) =>
        {
            if (e.Data is not null)
            {
                output.Enqueue(e.Data);
                while (output.Count > 40 && output.TryDequeue(out string? _))
                {
                }
            }
        };
        process.OutputDataReceived += keep;
        process.ErrorDataReceived += keep;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitUntilServingAsync(HttpClient client, Process product)
    {
        var until = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < until)
        {
            if (product.HasExited)
            {
                throw new InvalidOperationException($"the product exited with {product.ExitCode}: {Output(product)}");
            }

            try
            {
                using var health = await client.GetAsync("/healthz");
                if (health.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"the product did not serve /healthz within 2 minutes; its last output:{Environment.NewLine}{(Outputs.TryGetValue(product, out var lines) ? string.Join(Environment.NewLine, lines) : "")}");
    }

    private static async Task SignInAsync(HttpClient client)
    {
        var antiforgery = await client.GetFromJsonAsync<JsonElement>("/api/auth/antiforgery");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/sign-in") { Content = JsonContent.Create(new { username = Admin, password = Password }) };
        request.Headers.Add(antiforgery.GetProperty("headerName").GetString()!, antiforgery.GetProperty("token").GetString());
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
