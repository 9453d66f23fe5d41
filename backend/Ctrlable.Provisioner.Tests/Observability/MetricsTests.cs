using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Observability;

/// <summary>/metrics (SPEC §8e): who may read it, and what a deploy leaves in it.</summary>
public sealed partial class MetricsTests
{
    [Fact]
    public async Task Metrics_are_refused_without_an_admin_and_served_to_an_admin_token()
    {
        using var app = new ProvisionerApp();
        using var anonymous = app.CreateClient();
        using var viewer = await app.CreateClientAsync(Role.Viewer);
        using var operatorClient = await app.CreateClientAsync(Role.Operator);
        using var admin = await app.CreateClientAsync(Role.Admin);

        foreach (var (client, status) in new[] { (anonymous, HttpStatusCode.Unauthorized), (viewer, HttpStatusCode.Forbidden), (operatorClient, HttpStatusCode.Forbidden) })
        {
            using var refused = await client.GetAsync("/metrics");
            refused.StatusCode.Should().Be(status);
            refused.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            (await refused.Content.ReadAsStringAsync()).Should().NotContain("ctrlable_");
        }

        using var served = await admin.GetAsync("/metrics");
        served.StatusCode.Should().Be(HttpStatusCode.OK);
        served.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        (await served.Content.ReadAsStringAsync()).Should().Contain("ctrlable_platform_outbox_depth");
    }

    [Theory]
    [InlineData(true, HttpStatusCode.OK)]
    [InlineData(false, HttpStatusCode.Unauthorized)]
    public async Task A_loopback_caller_reads_metrics_without_a_token_only_when_configured(bool allowLoopback, HttpStatusCode expected)
    {
        using var app = new ProvisionerApp(kestrelUrls: "http://127.0.0.1:0", settings: new Dictionary<string, string?>
        {
            ["Metrics:AllowLoopback"] = allowLoopback ? "true" : "false",
        });
        await app.EnsureSetUpAsync();
        using var loopback = new HttpClient { BaseAddress = app.HttpAddress };

        using var response = await loopback.GetAsync("/metrics");

        response.StatusCode.Should().Be(expected);
        // Loopback opens /metrics only, nothing else.
        using var other = await loopback.GetAsync("/api/projects");
        other.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task After_a_deploy_metrics_show_step_durations_proxmox_routes_first_boots_and_sse_subscribers()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        using var admin = await app.CreateClientAsync(Role.Admin);
        var project = await DeployApiTests.CreateProjectAsync(client, "Metrics Site");

        // An open progress stream while the deploy runs and when metrics are read.
        using var events = await client.GetAsync($"/api/projects/{project}/events", HttpCompletionOption.ResponseHeadersRead);
        using var stream = new StreamReader(await events.Content.ReadAsStreamAsync());
        (await stream.ReadLineAsync()).Should().Be("event: snapshot");

        var deployed = await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" });
        deployed.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var instances = await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed");
        instances.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active");

        var metrics = Samples(await admin.GetStringAsync("/metrics"));

        metrics.Should().Contain(s => s.Name == "ctrlable_deploy_step_duration_seconds_count" && s.Labels["step"] == "pending" && s.Labels["outcome"] == "ok");
        metrics.Should().Contain(s => s.Name == "ctrlable_deploy_step_duration_seconds_bucket" && s.Labels["step"] == "starting");
        metrics.Should().Contain(s => s.Name == "ctrlable_firstboot_duration_seconds_count" && s.Labels["type"] == "zwavejs" && s.Labels["outcome"] == "ok");
        metrics.Should().Contain(s => s.Name == "ctrlable_sse_subscribers" && s.Labels["stream"] == "instances" && s.Value >= 1);

        var proxmox = metrics.Where(s => s.Name == "ctrlable_proxmox_requests_total").ToList();
        proxmox.Should().Contain(s => s.Labels["route"] == "/nodes/{node}/lxc/{vmid}/clone" && s.Labels["method"] == "POST" && s.Labels["status"] == "200");
        proxmox.Should().Contain(s => s.Labels["route"] == "/nodes/{node}/tasks/{upid}/status");
        metrics.Should().Contain(s => s.Name == "ctrlable_proxmox_request_duration_seconds_count" && s.Labels["route"] == "/nodes/{node}/lxc/{vmid}/clone");
        // No VMID, UPID or node name in any label of ours: only the status code is a number.
        var vmid = instances.Single().GetProperty("vmid").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var sample in metrics.Where(s => s.Name.StartsWith("ctrlable_", StringComparison.Ordinal)))
        {
            foreach (var (label, value) in sample.Labels.Where(l => l.Key is not ("status" or "le")))
            {
                value.Split('/').Should().NotContain(segment => DigitsOnly().IsMatch(segment), $"{sample.Name} {label}={value}");
                value.Should().NotContain(vmid).And.NotContain("UPID").And.NotContain(Ctrlable.Provisioner.Demo.SimulatedProxmoxHost.NodeName, $"{sample.Name} {label}={value}");
            }
        }
    }

    [Fact]
    public async Task A_metric_keeps_at_most_its_series_limit_and_counts_the_rest_in_one_overflow_series_with_its_buckets_kept()
    {
        using var app = new ProvisionerApp();
        using var admin = await app.CreateClientAsync(Role.Admin);
        var metrics = app.Services.GetRequiredService<ProvisionerMetrics>();
        var over = ObservabilitySetup.SeriesPerMetric + 20;

        for (var i = 0; i < over; i++)
        {
            metrics.ProxmoxRequest("GET", $"/route-{i}", "200", TimeSpan.FromMilliseconds(3));
        }

        var samples = Samples(await admin.GetStringAsync("/metrics"));
        var requests = samples.Where(s => s.Name == "ctrlable_proxmox_requests_total").ToList();

        // Up to the limit each route keeps its series; the rest are summed into one, so nothing is lost from the total.
        requests.Count(s => s.Labels["route"].StartsWith("/route-", StringComparison.Ordinal)).Should().BeInRange(ObservabilitySetup.SeriesPerMetric - 2, ObservabilitySetup.SeriesPerMetric);
        requests.Should().ContainSingle(s => s.Labels["otel_metric_overflow"] == "true").Which.Value.Should().BeGreaterThanOrEqualTo(20);
        requests.Sum(s => s.Value).Should().Be(over);
        // The limit comes from a view: the instrument's own bucket boundaries (5 ms first) still apply.
        samples.Should().Contain(s => s.Name == "ctrlable_proxmox_request_duration_seconds_bucket" && s.Labels["route"] == "/route-0" && s.Labels["le"] == "0.005" && s.Value == 1);
    }

    [Theory]
    [InlineData("https://pve:8006/api2/json/nodes/pve1/qemu/105/status/start", "/nodes/{node}/qemu/{vmid}/status/start")]
    [InlineData("https://pve:8006/api2/json/nodes/pve1/tasks/UPID:pve1:0000A1B2:0001C3D4:6650F00D:vzclone:105:ctrlable@pve!provisioner:/status", "/nodes/{node}/tasks/{upid}/status")]
    [InlineData("https://pve:8006/api2/json/cluster/nextid?vmid=105", "/cluster/nextid")]
    [InlineData("https://pve:8006/api2/json/nodes/pve1/lxc/200/rrddata?timeframe=hour&cf=AVERAGE", "/nodes/{node}/lxc/{vmid}/rrddata")]
    [InlineData("https://pve:8006/api2/json/pools/customer-pool/4711", "/{id}/{id}/{id}")]
    public void Proxmox_paths_become_route_templates_without_ids(string url, string template) =>
        ProxmoxRequestMetrics.RouteTemplate(new Uri(url)).Should().Be(template);

    private sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>The Prometheus text format's samples; a label a sample lacks reads as "".</summary>
    private static List<Sample> Samples(string text) =>
        [.. text.Split('\n')
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => SampleLine().Match(line))
            .Where(m => m.Success)
            .Select(m => new Sample(
                m.Groups["name"].Value,
                new DefaultingDictionary(LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups["key"].Value, l => l.Groups["value"].Value)),
                double.Parse(m.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture)))];

    private sealed class DefaultingDictionary(Dictionary<string, string> inner) : IReadOnlyDictionary<string, string>
    {
        public string this[string key] => inner.GetValueOrDefault(key, "");

        public IEnumerable<string> Keys => inner.Keys;

        public IEnumerable<string> Values => inner.Values;

        public int Count => inner.Count;

        public bool ContainsKey(string key) => inner.ContainsKey(key);

        public bool TryGetValue(string key, out string value) => inner.TryGetValue(key, out value!);

        public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => inner.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)")]
    private static partial Regex SampleLine();

    [GeneratedRegex("(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=\"(?<value>(?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex LabelPair();

    [GeneratedRegex(@"^\d+$")]
    private static partial Regex DigitsOnly();
}
