using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ctrlable.Provisioner.Platform;

// The wire types of docs/platform-api.yaml (the platform's site API). Keep them in step with that document:
// the tests' fake platform validates every body the orchestrator sends against it.

public sealed record EnrolmentRequest(string Code, string OrchestratorVersion, string? Hostname);

public sealed record EnrolmentResponse(string SiteId, string SiteToken, string? SiteName);

public sealed record ReportAck(bool Accepted, long LastSequence);

public sealed record SiteReport(
    string SiteId,
    long Sequence,
    DateTimeOffset GeneratedAt,
    string Trigger,
    int ChangesSinceLastReport,
    OrchestratorInfo Orchestrator,
    ReportedRelease? ActiveRelease,
    IReadOnlyList<ReportedInstance> Instances,
    HostSummary Host);

public sealed record OrchestratorInfo(string Version);

public sealed record ReportedRelease(string Name, string CommunityScriptsRef, string? CommunityScriptsCommit, DateTimeOffset ActivatedAt, IReadOnlyList<ReportedTemplate> Templates);

public sealed record ReportedTemplate(string Name, string Kind, long Vmid, string Node, string? AppVersion, DateTimeOffset BuiltAt);

public sealed record ReportedInstance(long Id, string Project, string Type, string? Kind, string Hostname, string State, string? Release, string? Node, long? Vmid, DateTimeOffset ChangedAt,
    ReportedHomeAssistant? HomeAssistant = null);

/// <summary>A ctrlable-pro instance's Home Assistant as the site knows it (never its credentials).</summary>
public sealed record ReportedHomeAssistant(string? Url, string? UuidPolicy, string? CoreUuid, DateTimeOffset? RestoredAt, DateTimeOffset? SecuredAt, DateTimeOffset? WiredAt);

public sealed record HostSummary(bool Simulated, bool Reachable, IReadOnlyList<HostNode> Nodes);

public sealed record HostNode(string Name, string Status, int? Cpus, double? CpuUsage, long? MemoryUsedBytes, long? MemoryTotalBytes, long? UptimeSeconds);

public static class ReportTriggers
{
    public const string Change = "change";
    public const string Heartbeat = "heartbeat";
    public const string Enrolment = "enrolment";
}

public static class PlatformJson
{
    /// <summary>camelCase, nulls written (the contract's nullable fields are required-but-nullable).</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The orchestrator's version as reported to the platform.</summary>
    public static string OrchestratorVersion { get; } =
        typeof(PlatformJson).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0]
        ?? typeof(PlatformJson).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";
}
