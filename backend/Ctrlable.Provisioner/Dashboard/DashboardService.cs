using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Dashboard;

public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    /// <summary>How long one Proxmox poll serves every viewer. Proxmox's own statistics refresh every 10 s.</summary>
    public double CacheSeconds { get; set; } = 3;

    /// <summary>How long one rrddata answer serves every viewer (RRD resolution is 60 s at best).</summary>
    public double MetricsCacheSeconds { get; set; } = 30;

    /// <summary>Longest wait for one app's answer in a poll (all apps are probed in parallel).</summary>
    public double AppProbeTimeoutSeconds { get; set; } = 2;

    /// <summary>
    /// Type → the port its app is probed on, where it differs from the default (zwavejs 8091, zigbee2mqtt 8080,
    /// docker-portainer 9443, frigate 5000, freepbx 80; Home Assistant: the located URL). Demo mode sets the emulator's.
    /// </summary>
    public Dictionary<string, int> AppPorts { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// Builds the dashboard from one <c>/cluster/resources</c> call plus one status call per node, joined with
/// the state database. Shared by every viewer through <see cref="SharedFetch{T}"/>.
/// </summary>
public sealed class DashboardService
{
    // Storage types whose volumes can be cloned as linked clones from a template (pve-storage volume_has_feature).
    private static readonly HashSet<string> LinkedCloneStorage = ["lvmthin", "zfspool", "zfs", "rbd", "btrfs"];

    private readonly ProxmoxClient _proxmox;
    private readonly ProxmoxConnections _connection;
    private readonly InstanceRepository _instances;
    private readonly AppHealthMonitor _apps;
    private readonly ReleaseRepository _releases;
    private readonly TimeProvider _time;
    private readonly DashboardOptions _options;
    private readonly SharedFetch<DashboardSnapshot> _snapshot;
    private readonly ConcurrentDictionary<string, SharedFetch<MetricSeries>> _metrics = new();

    public DashboardService(ProxmoxClient proxmox, ProxmoxConnections connection, InstanceRepository instances, ReleaseRepository releases, AppHealthMonitor apps, TimeProvider time, Microsoft.Extensions.Options.IOptions<DashboardOptions> options)
    {
        _apps = apps;
        _proxmox = proxmox;
        _connection = connection;
        _instances = instances;
        _releases = releases;
        _time = time;
        _options = options.Value;
        _snapshot = new SharedFetch<DashboardSnapshot>(FetchAsync, TimeSpan.FromSeconds(_options.CacheSeconds), time);
    }

    /// <summary>The latest snapshot; stale (with the reason) when Proxmox cannot be reached; null when nothing is known yet.</summary>
    public async Task<(DashboardSnapshot? Snapshot, string? Error)> GetAsync(CancellationToken ct)
    {
        var result = await _snapshot.GetAsync(ct);
        if (result.Error is null)
        {
            return (result.Value, null);
        }

        var reason = Unavailable(result.Error);
        return result.Value is null
            ? (null, reason)
            : (result.Value with { Stale = true, StaleReason = reason }, null);
    }

    public async Task<(MetricSeries? Series, string? Error)> GetNodeMetricsAsync(string node, MetricTimeframe timeframe, CancellationToken ct) =>
        await MetricsAsync($"node/{node}/{timeframe}", async c =>
        {
            var points = await _proxmox.GetNodeRrdAsync(node, ToRrd(timeframe), c);
            return new MetricSeries(node, Lower(timeframe), _time.GetUtcNow(), [.. points.Select(p => new MetricPoint(
                p.Time, p.Cpu, p.Memused, p.Memtotal, p.Loadavg, p.Rootused, p.Roottotal, p.Netin, p.Netout))]);
        }, ct);

    public async Task<(MetricSeries? Series, string? Error)> GetGuestMetricsAsync(GuestCard guest, MetricTimeframe timeframe, CancellationToken ct) =>
        await MetricsAsync($"guest/{guest.Node}/{guest.Vmid}/{timeframe}", async c =>
        {
            var kind = guest.Kind == "lxc" ? GuestKind.Lxc : GuestKind.Qemu;
            var points = await _proxmox.GetGuestRrdAsync(guest.Node, kind, guest.Vmid, ToRrd(timeframe), c);
            return new MetricSeries($"{guest.Vmid}", Lower(timeframe), _time.GetUtcNow(), [.. points.Select(p => new MetricPoint(
                p.Time, p.Cpu, p.Mem, p.Maxmem, null, p.Disk, p.Maxdisk, p.Netin, p.Netout))]);
        }, ct);

    private async Task<(MetricSeries?, string?)> MetricsAsync(string key, Func<CancellationToken, Task<MetricSeries>> fetch, CancellationToken ct)
    {
        var shared = _metrics.GetOrAdd(key, _ => new SharedFetch<MetricSeries>(fetch, TimeSpan.FromSeconds(_options.MetricsCacheSeconds), _time));
        var result = await shared.GetAsync(ct);
        return result.Error is null ? (result.Value, null) : (result.Value, Unavailable(result.Error));
    }

    private async Task<DashboardSnapshot> FetchAsync(CancellationToken ct)
    {
        var resources = await _proxmox.GetClusterResourcesAsync(null, ct);
        var nodeNames = resources.Where(r => r.Type == "node" && r.Status == "online" && r.Node is not null).Select(r => r.Node!).ToList();
        var statuses = await Task.WhenAll(nodeNames.Select(async n => (Node: n, Status: await _proxmox.GetNodeStatusAsync(n, ct))));
        var statusByNode = statuses.ToDictionary(s => s.Node, s => s.Status);

        var projects = await _instances.ListProjectsAsync(ct);
        var instances = await _instances.ListLiveAsync(ct);
        var active = await _releases.GetActiveNameAsync(ct);
        var templates = active is null ? [] : await _releases.ListTemplatesAsync(active, ct);

        var nodes = resources.Where(r => r.Type == "node" && r.Node is not null).OrderBy(r => r.Node, StringComparer.Ordinal).Select(r =>
        {
            statusByNode.TryGetValue(r.Node!, out var status);
            var storages = resources
                .Where(s => s.Type == "storage" && s.Node == r.Node && s.Storage is not null)
                .OrderBy(s => s.Storage, StringComparer.Ordinal)
                .Select(s => new StorageHealth(s.Storage!, s.Plugintype ?? "unknown", s.Content ?? "", s.Shared ?? false, s.Disk ?? 0, s.Maxdisk ?? 0,
                    LinkedCloneStorage.Contains(s.Plugintype ?? "")))
                .ToList();
            return new NodeHealth(
                r.Node!,
                r.Status ?? "unknown",
                status?.Cpu ?? r.Cpu ?? 0,
                status?.Cpuinfo.Cpus ?? r.Maxcpu ?? 0,
                status?.Memory.Used ?? r.Mem ?? 0,
                status?.Memory.Total ?? r.Maxmem ?? 0,
                status?.Rootfs.Used ?? r.Disk ?? 0,
                status?.Rootfs.Total ?? r.Maxdisk ?? 0,
                status is null ? [] : [.. status.Loadavg.Select(ParseLoad)],
                status?.Uptime ?? r.Uptime ?? 0,
                status is null ? null : PveVersionOf(status.Pveversion),
                storages);
        }).ToList();

        var guests = resources.Where(r => r.Kind is not null && r.Vmid is not null && r.Template != true).ToList();
        var instanceByVmid = instances.Where(i => i.Vmid is not null).ToDictionary(i => (int)i.Vmid!.Value);
        // The app of every running guest whose instance is deployed: does it answer, and since when (same poll, in parallel).
        var probed = guests
            .Where(g => g.Status == "running" && instanceByVmid.TryGetValue(g.Vmid!.Value, out var i) && i.State == InstanceStates.Active)
            .Select(g => instanceByVmid[g.Vmid!.Value])
            .ToList();
        var apps = await _apps.ProbeAsync(probed, ct);
        var cards = guests.Select(g =>
        {
            instanceByVmid.TryGetValue(g.Vmid!.Value, out var instance);
            return ToCard(g, instance, instance is not null && apps.TryGetValue(instance.Id, out var app) ? app : null);
        }).ToList();

        var projectOf = instances.ToDictionary(i => i.Id, i => i.ProjectId);
        var cardsByProject = cards.Where(c => c.InstanceId is not null).ToLookup(c => projectOf[c.InstanceId!.Value]);
        var projectGroups = projects.Select(p => new ProjectGuests(p.Id, p.Name, p.Slug, [.. cardsByProject[p.Id]
            .OrderBy(c => c.Name, StringComparer.Ordinal)])).ToList();
        var others = cards.Where(c => c.InstanceId is null).OrderBy(c => c.Vmid).ToList();

        var templateVmids = resources.Where(r => r.Template == true && r.Vmid is not null).Select(r => r.Vmid!.Value).ToHashSet();
        var templateCards = templates.Select(t => new TemplateCard(t.Name, t.Kind, (int)t.Vmid, t.Node, templateVmids.Contains((int)t.Vmid), t.AppVersion)).ToList();

        return new DashboardSnapshot(_time.GetUtcNow(), false, null, _connection.Current.Simulated, active, nodes, projectGroups, others, templateCards);
    }

    private static GuestCard ToCard(ClusterResource g, InstanceRow? instance, AppHealth? app) => new(
        g.Vmid!.Value,
        g.Node ?? "",
        g.Type,
        g.Name ?? $"{g.Vmid}",
        g.Status ?? "unknown",
        g.Cpu ?? 0,
        g.Mem ?? 0,
        g.Maxmem ?? 0,
        g.Uptime ?? 0,
        g.Lock,
        instance?.Id,
        instance?.Type,
        instance?.Release,
        instance?.State,
        instance?.Ip,
        instance?.Error,
        app);

    /// <summary>Turns the failures that mean "Proxmox is unreachable or refusing" into a reason; anything else is a bug and propagates.</summary>
    private static string Unavailable(Exception error)
    {
        return error switch
        {
            ProxmoxCertificateException e => e.Message,
            ProxmoxException e => $"Proxmox answered with an error: {e.ProxmoxMessage}",
            HttpRequestException e => $"Proxmox is unreachable: {e.Message}",
            TimeoutException or TaskCanceledException or Polly.Timeout.TimeoutRejectedException => "Proxmox did not answer in time.",
            JsonException => "Proxmox sent an answer the orchestrator could not read.",
            _ => Rethrow(error),
        };

        static string Rethrow(Exception e)
        {
            ExceptionDispatchInfo.Throw(e);
            return "";
        }
    }

    private static double ParseLoad(string value) =>
        double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0;

    /// <summary>"pve-manager/9.1.3/abcdef" → "9.1.3".</summary>
    private static string PveVersionOf(string pveversion)
    {
        var parts = pveversion.Split('/');
        return parts.Length >= 2 ? parts[1] : pveversion;
    }

    private static RrdTimeframe ToRrd(MetricTimeframe timeframe) => timeframe switch
    {
        MetricTimeframe.Hour => RrdTimeframe.Hour,
        MetricTimeframe.Day => RrdTimeframe.Day,
        _ => RrdTimeframe.Week,
    };

    private static string Lower(MetricTimeframe timeframe) => timeframe.ToString().ToLowerInvariant();
}
