using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ctrlable.Bench;

/// <summary>
/// Platform report-up while offline (issue #11): N instance state changes are made while the platform is down, then
/// it comes back. Measured: reports (and bytes) it takes to deliver them, against the same-run baseline of a naive
/// sender that sends one full snapshot per change; and the cost of recording each change in the outbox (trigger on)
/// against the same changes on a site that is not enrolled (trigger condition false).
/// </summary>
internal static class PlatformBench
{
    public static async Task<int> RunAsync(int changes, int offlineSeconds)
    {
        await using var platform = await CountingPlatform.StartAsync();
        using var orchestrator = new Orchestrator(new()
        {
            ["Platform:Url"] = platform.Url,
            // Defaults, except no start-up wait and a short back-off cap so the benchmark need not wait 30 minutes
            // for the next attempt.
            ["Platform:StartupJitter"] = "00:00:00",
            ["Platform:RetryBaseDelay"] = "00:00:00.500",
            ["Platform:RetryMaxDelay"] = "00:00:02",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        using var admin = await orchestrator.StartAsync(Ctrlable.Provisioner.Auth.Role.Admin);
        var repo = orchestrator.Services.GetRequiredService<InstanceRepository>();
        var transitions = orchestrator.Services.GetRequiredService<InstanceTransitions>();
        var project = (await repo.InsertProjectAsync("Bench", "bench", "{}", CancellationToken.None))!;
        var (_, instances) = await repo.InsertDeployAsync(project.Id, "bench", "stack", "2026.06", "bench",
            [.. Enumerable.Range(0, 50).Select(_ => new NewInstance("zwavejs", "lxc", 9001, "pve", "2026.06"))], CancellationToken.None);

        // Warm-up (JIT, connection pool, page cache), not counted.
        await ChangeAsync(transitions, instances, 300, TimeSpan.Zero);

        // Same-run baseline for the write cost: the same changes, paced the same, on a site that is not enrolled (no outbox rows).
        var unenrolled = await ChangeAsync(transitions, instances, changes, TimeSpan.FromSeconds(offlineSeconds));

        (await admin.PostAsJsonAsync("/api/platform/enrolment", new { code = CountingPlatform.Code })).EnsureSuccessStatusCode();
        await WaitAsync(admin, s => s.Connection == PlatformConnection.Connected && s.PendingChanges == 0);
        var snapshotBytes = platform.LastBodyBytes;

        // Offline for a while, with the changes spread over it: the sender keeps trying (and backing off) meanwhile.
        platform.Down = true;
        var enrolled = await ChangeAsync(transitions, instances, changes, TimeSpan.FromSeconds(offlineSeconds));
        var offline = await StatusAsync(admin);
        var reportsBefore = platform.Accepted;
        var bytesBefore = platform.AcceptedBytes;
        var attemptsOffline = platform.Refused;

        var back = Stopwatch.StartNew();
        platform.Down = false;
        await WaitAsync(admin, s => s.Connection == PlatformConnection.Connected && s.PendingChanges == 0);
        var drain = back.Elapsed.TotalSeconds;
        var reports = platform.Accepted - reportsBefore;
        var bytes = platform.AcceptedBytes - bytesBefore;

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"platform benchmark: {changes} state changes on 50 instances during {offlineSeconds} s with the platform down, then it comes back"));
        Console.WriteLine("| mode | reports | reports per change | bytes sent | changes pending while offline | failed attempts while offline |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| orchestrator (outbox, coalesced) | {reports} | {(double)reports / changes:0.0000} | {bytes:N0} | {offline.PendingChanges} | {attemptsOffline} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| baseline: one full report per change | {changes} | 1.0000 | {(long)changes * snapshotBytes:N0} | – | – |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reports: {changes / (double)Math.Max(reports, 1):0}× fewer than the baseline; delivered {drain:0.00} s after the platform came back (includes the remaining back-off)."));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"outbox write cost: the {changes} writes took {enrolled.TotalMilliseconds:0} ms enrolled (each records an outbox row) vs {unenrolled.TotalMilliseconds:0} ms not enrolled (ratio {enrolled / unenrolled:0.00})."));
        return reports <= 5 && offline.PendingChanges == changes ? 0 : 1;
    }

    /// <summary>Makes the changes in rounds spread over <paramref name="spread"/>; returns the time spent in the writes alone.</summary>
    private static async Task<TimeSpan> ChangeAsync(InstanceTransitions transitions, IReadOnlyList<InstanceRow> instances, int changes, TimeSpan spread)
    {
        var rounds = (changes + instances.Count - 1) / instances.Count;
        var total = TimeSpan.Zero;
        string[] states = [InstanceStates.Cloning, InstanceStates.Configuring, InstanceStates.Starting, InstanceStates.Waiting, InstanceStates.Personalising, InstanceStates.Active];
        for (var i = 0; i < changes; i++)
        {
            if (i > 0 && i % instances.Count == 0 && spread > TimeSpan.Zero)
            {
                await Task.Delay(spread / rounds);
            }

            var instance = instances[i % instances.Count];
            var watch = Stopwatch.StartNew();
            // Each round moves every instance one step, so every call is a real state change.
            await transitions.MoveAsync(instance.Id, new Transition(states[(i / instances.Count) % states.Length], "bench"), CancellationToken.None);
            total += watch.Elapsed;
        }

        return total;
    }

    private static async Task<PlatformStatus> StatusAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<PlatformStatus>("/api/platform/status", Json))!;

    private static async Task WaitAsync(HttpClient client, Func<PlatformStatus, bool> condition)
    {
        var until = DateTime.UtcNow.AddMinutes(2);
        while (!condition(await StatusAsync(client)))
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException("platform status not reached: " + JsonSerializer.Serialize(await StatusAsync(client), Json));
            }

            await Task.Delay(50);
        }
    }

    private static readonly JsonSerializerOptions Json = CreateJson();

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        JsonDefaults.Configure(options);
        return options;
    }

    /// <summary>A minimal platform for the benchmark: one code, accepts every report, counts reports and bytes; Down drops connections.</summary>
    private sealed class CountingPlatform(WebApplication app) : IAsyncDisposable
    {
        public const string Code = "ENR-BENCH1";
        private long _accepted;
        private long _bytes;
        private long _refused;

        public string Url { get; private set; } = "";
        public volatile bool Down;
        public long Accepted => Interlocked.Read(ref _accepted);
        public long AcceptedBytes => Interlocked.Read(ref _bytes);
        public long Refused => Interlocked.Read(ref _refused);
        public long LastBodyBytes { get; private set; }

        public static async Task<CountingPlatform> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var platform = new CountingPlatform(app);
            app.MapPost("/api/v1/enrolments", () => Results.Json(new { siteId = "bench-site", siteToken = new string('t', 40) }, statusCode: 201));
            app.MapPost("/api/v1/sites/{siteId}/reports", async (HttpContext context) =>
            {
                if (platform.Down)
                {
                    Interlocked.Increment(ref platform._refused);
                    context.Abort();
                    return Results.Empty;
                }

                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                using var report = JsonDocument.Parse(body.ToArray());
                platform.LastBodyBytes = body.Length;
                Interlocked.Increment(ref platform._accepted);
                Interlocked.Add(ref platform._bytes, body.Length);
                return Results.Json(new { accepted = true, lastSequence = report.RootElement.GetProperty("sequence").GetInt64() });
            });
            await app.StartAsync();
            platform.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/api";
            return platform;
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
