using System.Net;
using System.Text.Json.Serialization;

namespace Ctrlable.Provisioner.Proxmox;

// Shapes of the Proxmox answers the product reads, named as in the official schema. Only the
// fields the product uses are declared; Proxmox may send more. Numbers can arrive as strings and
// booleans as 0/1: ProxmoxJson copes with both.

public enum GuestKind { Lxc, Qemu }

public sealed record PveVersionInfo(string Version, string Release);

public sealed record NodeSummary(
    string Node,
    string Status,
    double? Cpu,
    int? Maxcpu,
    long? Mem,
    long? Maxmem,
    long? Disk,
    long? Maxdisk,
    long? Uptime,
    [property: JsonPropertyName("ssl_fingerprint")] string? SslFingerprint);

public sealed record NodeMemory(long Total, long Used, long Free);

public sealed record NodeRootFs(long Total, long Used, long Avail);

public sealed record NodeCpuInfo(string? Model, int Cpus, int? Sockets, int? Cores);

public sealed record NodeStatus(
    double Cpu,
    IReadOnlyList<string> Loadavg,
    long Uptime,
    NodeMemory Memory,
    NodeRootFs Rootfs,
    NodeCpuInfo Cpuinfo,
    string Pveversion,
    string? Kversion);

public sealed record ClusterResource(
    string Id,
    string Type,
    string? Node,
    int? Vmid,
    string? Name,
    string? Status,
    bool? Template,
    double? Cpu,
    int? Maxcpu,
    long? Mem,
    long? Maxmem,
    long? Disk,
    long? Maxdisk,
    long? Uptime,
    string? Pool,
    string? Lock,
    string? Tags,
    string? Storage,
    string? Plugintype,
    bool? Shared,
    string? Content)
{
    public GuestKind? Kind => Type switch { "lxc" => GuestKind.Lxc, "qemu" => GuestKind.Qemu, _ => null };
}

public sealed record StorageStatus(
    string Storage,
    string Type,
    string Content,
    bool? Active,
    bool? Enabled,
    bool? Shared,
    long? Total,
    long? Used,
    long? Avail);

/// <summary>One RRD sample. Proxmox omits data sources it has no value for, so every value is optional.</summary>
public sealed record RrdPoint(
    long Time,
    double? Cpu,
    double? Maxcpu,
    double? Loadavg,
    double? Iowait,
    double? Memused,
    double? Memtotal,
    double? Mem,
    double? Maxmem,
    double? Rootused,
    double? Roottotal,
    double? Disk,
    double? Maxdisk,
    double? Netin,
    double? Netout);

public enum RrdTimeframe { Hour, Day, Week, Month, Year }

public sealed record GuestStatus(int? Vmid, string Status, string? Name, string? Lock, long? Uptime, double? Cpu, long? Mem, long? Maxmem, bool? Template);

public sealed record TaskStatus(string Upid, string Node, string Status, string? Exitstatus, string Type, string Id, string User, long Starttime)
{
    public bool IsRunning => Status == "running";

    /// <summary>Proxmox counts "OK" and "WARNINGS: n" as success.</summary>
    public bool Succeeded => Exitstatus is not null && (Exitstatus == "OK" || Exitstatus.StartsWith("WARNINGS", StringComparison.Ordinal));
}

public sealed record TaskLogLine(int N, string T);

/// <summary>One entry of GET …/snapshot: a snapshot, or the last entry <c>current</c> ("You are here!").</summary>
public sealed record GuestSnapshot(string Name, string? Description, long? Snaptime, string? Parent)
{
    public const string Current = "current";
}

/// <summary>
/// One entry of a node's task list (<c>GET /nodes/{node}/tasks</c>). With <c>source=active</c> pve-manager lists running
/// tasks (status <c>RUNNING</c>, no end time) and ended ones it has not archived yet (their end time and exit status);
/// <c>source=all</c> adds the archived ones (end time, and the exit status as <c>status</c>).
/// </summary>
public sealed record TaskListEntry(string Upid, string Type, string? Id, string? Status, long? Endtime)
{
    public bool IsRunning => Endtime is null;
}

public sealed record GuestIpAddress(
    [property: JsonPropertyName("ip-address-type")] string IpAddressType,
    [property: JsonPropertyName("ip-address")] string IpAddress,
    int? Prefix);

public sealed record GuestInterface(
    string Name,
    [property: JsonPropertyName("hardware-address")] string? HardwareAddress,
    string? Hwaddr,
    [property: JsonPropertyName("ip-addresses")] IReadOnlyList<GuestIpAddress>? IpAddresses,
    string? Inet,
    string? Inet6 = null)
{
    /// <summary>
    /// The addresses the interface reports, without their prefix length, in this order: the guest agent's list, LXC's
    /// <c>inet</c>, and with <paramref name="withInet6"/> LXC's <c>inet6</c>. Text that is no address is skipped.
    /// </summary>
    public IEnumerable<IPAddress> Addresses(bool withInet6 = false)
    {
        var texts = (IpAddresses ?? []).Select(a => a.IpAddress).Append(Inet);
        foreach (var text in (withInet6 ? texts.Append(Inet6) : texts).OfType<string>())
        {
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            if (IPAddress.TryParse(slash < 0 ? text : text[..slash], out var address))
            {
                yield return address;
            }
        }
    }
}

public sealed record QemuAgentResult<T>(T Result);

/// <summary>Parameters of a clone. LXC names the clone <c>hostname</c>, QEMU <c>name</c>; the client maps <see cref="Name"/> to the right one.</summary>
public sealed record CloneRequest(int NewId, string Name, string? Description = null, string? Pool = null, bool? Full = null, string? Storage = null, string? Target = null);

/// <summary>One volume of <c>GET /nodes/{node}/storage/{storage}/content</c>; for a backup, its guest and the first line of its notes.</summary>
public sealed record StorageContent(string Volid, string? Content, string? Format, long Size, long? Ctime, int? Vmid, string? Notes, bool? Protected);
