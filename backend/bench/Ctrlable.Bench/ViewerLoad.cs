using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ctrlable.Bench;

/// <summary>
/// The dashboard benchmark's load generator, run as a process of its own so that its HTTP clients, JSON parsing and
/// thread pool do not share the measured server's CPU scheduling and GC (they still share the machine's cores).
/// N viewers each GET the given paths in turn, then think; the child prints "started" when it begins to measure and,
/// at the end, one JSON line with the request count and latency percentiles.
/// </summary>
internal static class ViewerLoad
{
    /// <summary>The child's side: <c>viewers --url U --auth "Scheme value" --paths a,b --viewers N --seconds S --think-ms T [--fingerprint F]</c>.</summary>
    public static async Task<int> RunChildAsync(string url, string auth, string[] paths, int viewers, TimeSpan duration, TimeSpan think, string? fingerprint)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue };
        if (fingerprint is not null)
        {
            // The emulator's self-signed certificate, trusted by its pinned fingerprint only.
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null &&
                string.Join(':', SHA256.HashData(certificate.GetRawCertData()).Select(b => b.ToString("X2", CultureInfo.InvariantCulture))) == fingerprint;
        }

        using var client = new HttpClient(handler) { BaseAddress = new Uri(url) };
        var space = auth.IndexOf(' ', StringComparison.Ordinal);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(auth[..space], auth[(space + 1)..]);
        async Task ViewAsync(CancellationToken ct)
        {
            foreach (var path in paths)
            {
                using var response = await client.GetAsync(path, ct);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync(ct);
            }
        }

        // Warm-up (JIT, connections), not measured.
        for (var i = 0; i < 20; i++)
        {
            await ViewAsync(CancellationToken.None);
        }

        Console.WriteLine("started");
        using var stop = new CancellationTokenSource(duration);
        var latencies = new List<double>[viewers];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, viewers).Select(async i =>
        {
            var mine = latencies[i] = [];
            // Spread the viewers' phases like real browsers opened at different moments.
            await Task.Delay(TimeSpan.FromMilliseconds(think.TotalMilliseconds * i / viewers));
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await ViewAsync(stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }

                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                try
                {
                    await Task.Delay(think, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }));
        var seconds = clock.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToList();
        Console.WriteLine(new JsonObject
        {
            ["requests"] = all.Count,
            ["seconds"] = seconds,
            ["p50"] = Stats.Percentile(all, 50),
            ["p99"] = Stats.Percentile(all, 99),
        }.ToJsonString());
        return 0;
    }

    /// <summary>The parent's side: runs the child and returns its figures plus the Proxmox requests made while it measured.</summary>
    public static async Task<(int Requests, double Seconds, double P50, double P99, long ProxmoxRequests)> RunAsync(
        Uri url, string auth, IReadOnlyList<string> paths, int viewers, TimeSpan duration, TimeSpan think, string? fingerprint, Func<long> proxmoxRequests)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ViewerLoad).Assembly.Location);
        }

        foreach (var arg in (string[])["viewers", "--url", url.ToString(), "--auth", auth, "--paths", string.Join(',', paths),
            "--viewers", viewers.ToString(CultureInfo.InvariantCulture), "--seconds", duration.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            "--think-ms", think.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(arg);
        }

        if (fingerprint is not null)
        {
            start.ArgumentList.Add("--fingerprint");
            start.ArgumentList.Add(fingerprint);
        }

        using var child = Process.Start(start) ?? throw new InvalidOperationException("the load generator did not start");
        var errors = child.StandardError.ReadToEndAsync();
        long? before = null;
        string? result = null;
        while (await child.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line == "started")
            {
                before = proxmoxRequests();
            }
            else if (line.StartsWith('{'))
            {
                result = line;
                break;
            }
        }

        var after = proxmoxRequests();
        await child.WaitForExitAsync();
        if (result is null || before is null || child.ExitCode != 0)
        {
            throw new InvalidOperationException($"the load generator failed (exit {child.ExitCode}): {await errors}");
        }

        using var json = JsonDocument.Parse(result);
        var r = json.RootElement;
        return (r.GetProperty("requests").GetInt32(), r.GetProperty("seconds").GetDouble(), r.GetProperty("p50").GetDouble(), r.GetProperty("p99").GetDouble(), after - before.Value);
    }
}
