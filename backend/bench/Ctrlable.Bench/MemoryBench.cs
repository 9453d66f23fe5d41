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
/// viewers run (sampled each second) and its peak (VmHWM).
/// </summary>
internal static class MemoryBench
{
    private static readonly TimeSpan ThinkTime = TimeSpan.FromMilliseconds(250);
    private const string Admin = "bench";
    private const string Password = "memory-Passw0rd-orchestrator-rss";

    public static async Task<int> RunAsync(int viewers, TimeSpan duration)
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
            using (var create = Start(settings, ["--create-admin", Admin]))
            {
                await create.WaitForExitAsync();
                if (create.ExitCode != 0)
                {
                    throw new InvalidOperationException($"--create-admin failed: {await create.StandardError.ReadToEndAsync()}");
                }
            }

            using var product = Start(settings, ["--urls", $"http://127.0.0.1:{port}"]);
            try
            {
                using var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
                await WaitUntilServingAsync(client, product);
                await SignInAsync(client);
                (await client.GetAsync("/api/dashboard")).EnsureSuccessStatusCode(); // warm-up
                var serving = Rss(product.Id, "VmRSS");

                var samples = new List<long>();
                using var stop = new CancellationTokenSource(duration);
                var sampler = Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        samples.Add(Rss(product.Id, "VmRSS"));
                        await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                    }
                });
                var requests = 0L;
                await Task.WhenAll(Enumerable.Range(0, viewers).Select(async i =>
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(ThinkTime.TotalMilliseconds * i / viewers));
                    while (!stop.IsCancellationRequested)
                    {
                        using (var response = await client.GetAsync("/api/dashboard"))
                        {
                            response.EnsureSuccessStatusCode();
                        }

                        Interlocked.Increment(ref requests);
                        await Task.Delay(ThinkTime);
                    }
                }));
                await sampler;
                var peak = Rss(product.Id, "VmHWM");
                // What the resident set is made of at the end: anonymous memory (GC heaps, JIT code, native allocations)
                // against mapped files (the runtime's and the app's assemblies, SQLite).
                var anonymous = Rss(product.Id, "RssAnon");
                var files = Rss(product.Id, "RssFile");
                samples.Sort();

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memory benchmark: the product (dotnet Ctrlable.Provisioner.dll, real mode) under {viewers} dashboard viewers for {duration.TotalSeconds:0} s ({requests / duration.TotalSeconds:0} req/s)"));
                Console.WriteLine("| RSS serving, before viewers MB | RSS with viewers p50 MB | RSS with viewers max MB | peak RSS (VmHWM) MB | at the end: anonymous MB | at the end: files MB |");
                Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {Mb(serving):0.0} | {Mb(samples[samples.Count / 2]):0.0} | {Mb(samples[^1]):0.0} | {Mb(peak):0.0} | {Mb(anonymous):0.0} | {Mb(files):0.0} |"));
                return 0;
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

    private static double Mb(long kb) => kb / 1024.0;

    /// <summary>A line of /proc/PID/status in kB (VmRSS: now; VmHWM: the peak).</summary>
    private static long Rss(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private static Process Start(Dictionary<string, string> settings, string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.dll"));
        foreach (var arg in args)
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

        start.Environment["CTRLABLE_ADMIN_PASSWORD"] = Password;
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        // Drained so a chatty process never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    private static async Task WaitUntilServingAsync(HttpClient client, Process product)
    {
        var until = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < until)
        {
            if (product.HasExited)
            {
                throw new InvalidOperationException($"the product exited with {product.ExitCode}: {await product.StandardError.ReadToEndAsync()}");
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

            await Task.Delay(100);
        }

        throw new TimeoutException("the product did not serve /healthz within 2 minutes");
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
