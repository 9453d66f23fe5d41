namespace Ctrlable.Provisioner.Dashboard;

/// <summary>What the dealer's first screen shows, fetched once for every viewer.</summary>
public sealed record DashboardSnapshot(
    DateTimeOffset AsOf,
    bool Stale,
    string? StaleReason,
    bool Simulated,
    string? ActiveRelease,
    IReadOnlyList<NodeHealth> Nodes,
    IReadOnlyList<ProjectGuests> Projects,
    IReadOnlyList<GuestCard> OtherGuests,
    IReadOnlyList<TemplateCard> Templates);

public sealed record NodeHealth(
    string Node,
    string Status,
    double CpuFraction,
    int Cpus,
    long MemUsed,
    long MemTotal,
    long RootUsed,
    long RootTotal,
    IReadOnlyList<double> LoadAverage,
    long UptimeSeconds,
    string? PveVersion,
    IReadOnlyList<StorageHealth> Storages);

/// <summary>A storage on a node. <see cref="LinkedClones"/> false means deploys onto it are slow full copies.</summary>
public sealed record StorageHealth(string Storage, string Type, string Content, bool Shared, long Used, long Total, bool LinkedClones);

public sealed record ProjectGuests(long ProjectId, string Name, string Slug, IReadOnlyList<GuestCard> Guests);

public sealed record GuestCard(
    int Vmid,
    string Node,
    string Kind,
    string Name,
    string Status,
    double CpuFraction,
    long MemUsed,
    long MemTotal,
    long UptimeSeconds,
    string? Lock,
    long? InstanceId,
    string? Type,
    string? Release,
    string? InstanceState,
    string? Ip,
    string? Error,
    [property: System.ComponentModel.Description("Whether the guest's app answers (HTTP status or TCP connect, per type) and since when; null when the guest is not running or its instance is not active.")] AppHealth? App = null);

/// <summary>A template of the active release and whether Proxmox still holds it.</summary>
public sealed record TemplateCard(string Name, string Kind, int Vmid, string Node, bool Present, string? AppVersion);

public sealed record MetricPoint(
    long Time,
    double? Cpu,
    double? MemUsed,
    double? MemTotal,
    double? Load,
    double? DiskUsed,
    double? DiskTotal,
    double? NetIn,
    double? NetOut);

public sealed record MetricSeries(string Target, string Timeframe, DateTimeOffset AsOf, IReadOnlyList<MetricPoint> Points);

public enum MetricTimeframe { Hour, Day, Week }
