using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Provision;

public enum ProvisionOutcome
{
    Ok,

    /// <summary>Unknown host name, wrong secret or another release's secret: one answer for all, so nothing can be enumerated.</summary>
    Denied,

    /// <summary>The caller's address is not one Proxmox reports for the guest.</summary>
    AddressMismatch,

    /// <summary>Not yet: the instance is still being deployed, or Proxmox reports no address for the guest yet. Retry.</summary>
    NotReady,

    /// <summary>The first boot is over (completed, failed or being deleted): the assignment is consumed.</summary>
    Gone,

    /// <summary>Proxmox could not be asked for the guest's addresses. Retry.</summary>
    ProxmoxUnavailable,

    /// <summary>The release secret alone, for an instance whose first fetch claimed it: only its instance credential is accepted.</summary>
    Claimed,

    /// <summary>The guest has no MQTT broker to follow (not a zigbee2mqtt or frigate guest).</summary>
    NoBroker,

    /// <summary>The instance waits for its first boot but the orchestrator holds no assignment for it: it failed, for good.</summary>
    NoAssignment,
}

public sealed record ProvisionResult(ProvisionOutcome Outcome, string Detail, Assignment? Assignment = null, BrokerAddress? Broker = null);

/// <summary>Where a guest's MQTT broker is reached now (<c>GET /api/provision/broker</c>): no secret, the address only.</summary>
public sealed record BrokerAddress(
    string Hostname,
    [property: System.ComponentModel.Description("The broker's address (or host name where the site's DNS serves the guests' names).")] string Host,
    int Port,
    [property: System.ComponentModel.Description("mqtt://host:port (mqtts:// with TLS), as Zigbee2MQTT's mqtt.server takes it.")] string Server);

public enum CompletionStatus { Ok, Failed }

/// <summary>What the guest reports at the end of its first boot.</summary>
public sealed record CompletionReport(CompletionStatus Status, string? Message, IReadOnlyDictionary<string, string> Versions);

/// <summary>
/// The orchestrator's side of the first-boot contract: authenticates a guest (host name, the secret of the
/// release it was cloned from — or, once its first fetch claimed the assignment, its instance credential — and its
/// address as Proxmox reports it), serves its assignment while the instance waits for its first boot, and records
/// each step: waiting → personalising → active | failed.
/// </summary>
public sealed partial class ProvisionService(
    Database database,
    ReleaseSecrets releaseSecrets,
    ReleaseRepository releases,
    AssignmentService assignments,
    FirstBootClaims claims,
    InstanceRepository instances,
    SiteAddresses siteAddresses,
    GuestAddressCheck addressCheck,
    InstanceTransitions transitions,
    TimeProvider time,
    ProvisionerMetrics metrics,
    ILogger<ProvisionService> logger)
{
    // Compared against when there is no expected secret, so a miss costs what a hit costs.
    private static readonly byte[] NoSecret = RandomNumberGenerator.GetBytes(32);

    public static bool IsValidHostname(string? hostname) => hostname is not null && Hostname().IsMatch(hostname);

    /// <summary>
    /// The assignment, for the release secret (<paramref name="credential"/> null: the fetch claims the assignment and
    /// the answer carries a new instance credential; refused once the claim is confirmed), for the release secret with
    /// the guest's own credential (<paramref name="claim"/>: the fetch claims and confirms at once; refused once another
    /// credential's claim is confirmed) or for the instance credential (its first use confirms the claim).
    /// </summary>
    public async Task<ProvisionResult> FetchAssignmentAsync(string hostname, string? secret, string? credential, string? claim, IPAddress? caller, CancellationToken ct)
    {
        var (instance, denied) = await AuthenticateAsync(hostname, secret, credential, caller, ct);
        if (instance is null)
        {
            return denied!;
        }

        if (await CheckStateAndAddressAsync(instance, caller, withCredential: credential is not null, ct) is { } refused)
        {
            return refused;
        }

        var assignment = await assignments.GetAsync(instance.Id, ct);
        if (assignment is null)
        {
            // The deploy stores the assignment before it starts the guest: waiting without one, it never comes.
            logger.LogError("Instance {InstanceId} ({Hostname}) waits for its first boot but has no assignment", instance.Id, instance.Hostname);
            return await FailWithoutAssignmentAsync(instance, caller, ct);
        }

        string? issued = null;
        if (claim is not null && credential is null)
        {
            if (!await claims.ClaimAsync(instance.Id, claim, caller, ct))
            {
                logger.LogWarning("First-boot call for {Hostname} from {Address} refused: its assignment is claimed by another credential", hostname, caller);
                return Claimed();
            }

            logger.LogInformation("Instance {InstanceId} ({Hostname}): the first-boot fetch from {Address} claimed the assignment with the guest's credential", instance.Id, instance.Hostname, caller);
        }
        else if (credential is null)
        {
            issued = await claims.IssueAsync(instance.Id, caller, ct);
            if (issued is null)
            {
                logger.LogWarning("First-boot call for {Hostname} from {Address} refused: its assignment is claimed, only its instance credential reads it", hostname, caller);
                return Claimed();
            }

            logger.LogInformation("Instance {InstanceId} ({Hostname}): the first-boot fetch from {Address} claimed the assignment", instance.Id, instance.Hostname, caller);
        }
        else
        {
            await claims.ConfirmAsync(instance.Id, ct);
        }

        if (instance.State == InstanceStates.Personalising)
        {
            // A fetch that resumes the first boot: an earlier refusal's note no longer applies.
            await NoteAsync(instance, FetchedMessage, ct);
        }

        if (instance.State == InstanceStates.Waiting)
        {
            await transitions.MoveAsync(instance.Id, new Transition(InstanceStates.Personalising, FetchedMessage)
            {
                From = [InstanceStates.Waiting],
                Ip = caller?.ToString(),
                Note = "Assignment fetched",
                Source = Source(caller),
            }, ct);
        }

        return new ProvisionResult(ProvisionOutcome.Ok, "", assignment with { InstanceCredential = issued });
    }

    /// <summary>The guest's report, with the instance credential its first fetch handed out (the release secret does not complete).</summary>
    public async Task<ProvisionResult> CompleteAsync(string hostname, string credential, IPAddress? caller, CompletionReport report, CancellationToken ct)
    {
        var (instance, denied) = await AuthenticateAsync(hostname, null, credential, caller, ct);
        if (instance is null)
        {
            return denied!;
        }

        if (await CheckStateAndAddressAsync(instance, caller, withCredential: true, ct) is { } refused)
        {
            return refused;
        }

        var to = report.Status == CompletionStatus.Ok ? InstanceStates.Active : InstanceStates.Failed;
        var message = string.IsNullOrWhiteSpace(report.Message) ? (to == InstanceStates.Active ? "First boot done" : "First boot failed") : report.Message;
        var completedAt = time.GetUtcNow();
        var move = new Transition(to, to == InstanceStates.Active ? "Running" : "First boot failed")
        {
            From = FirstBoot,
            Error = to == InstanceStates.Failed ? message : null,
            Ip = caller?.ToString(),
            Report = new FirstBootReport(message, JsonSerializer.Serialize(report.Versions)),
            ClearDeadline = true,
            Note = message,
            Source = Source(caller),
        };
        if (!await transitions.MoveAsync(instance.Id, move, ct))
        {
            return Gone();
        }

        if (instance.PersonalisingAt is { } fetched)
        {
            metrics.FirstBoot(instance.Type, to == InstanceStates.Active ? "ok" : "failed", completedAt - fetched);
        }

        if (to == InstanceStates.Active)
        {
            logger.LogInformation("Instance {InstanceId} ({Hostname}) finished its first boot", instance.Id, instance.Hostname);
        }
        else
        {
            logger.LogWarning("Instance {InstanceId} ({Hostname}) reports a failed first boot: {Message}", instance.Id, instance.Hostname, message);
        }

        return new ProvisionResult(ProvisionOutcome.Ok, "");
    }

    /// <summary>
    /// Where the MQTT broker of a zigbee2mqtt or frigate guest is reached now, for the guest's own timer
    /// (<c>ctrlable-firstboot --follow-broker</c>) after its first boot: with its instance credential, from its address.
    /// The project's own broker (its Home Assistant's Mosquitto) follows that Home Assistant's address; a broker the site
    /// settings name stays the one of the guest's assignment.
    /// </summary>
    public async Task<ProvisionResult> GetBrokerAsync(string hostname, string credential, IPAddress? caller, CancellationToken ct)
    {
        var (instance, denied) = await AuthenticateAsync(hostname, null, credential, caller, ct);
        if (instance is null)
        {
            return denied!;
        }

        if (instance.State != InstanceStates.Active)
        {
            return new ProvisionResult(ProvisionOutcome.NotReady, $"The instance is {instance.State}; its broker is followed once it is active.");
        }

        if (instance.Type is not (TemplateTypes.Zigbee2Mqtt or TemplateTypes.Frigate)
            || await assignments.GetAsync(instance.Id, ct) is not { Mqtt: { } mqtt })
        {
            return new ProvisionResult(ProvisionOutcome.NoBroker, $"A {instance.Type} guest has no MQTT broker to follow.");
        }

        if (await addressCheck.CheckAsync(instance, caller, withCredential: true, ct) is { } refused)
        {
            return refused;
        }

        var settings = await Projects.SiteSettings.OfProjectAsync(instances, instance.ProjectId, ct);
        var (host, port, tls) = (mqtt.Host, mqtt.Port, mqtt.Tls);
        if (settings.Mqtt is null && !mqtt.Tls && mqtt.Port == 1883)
        {
            if (await siteAddresses.BrokerHostNowAsync(instance.ProjectId, settings, ct) is not { } current)
            {
                return new ProvisionResult(ProvisionOutcome.NotReady, "The address of the project's Home Assistant (the MQTT broker) is not known yet.");
            }

            host = current;
        }

        return new ProvisionResult(ProvisionOutcome.Ok, "", Broker: new BrokerAddress(instance.Hostname, host, port, AssignmentService.Server(host, port, tls)));
    }

    /// <summary>
    /// A guest's call after its first boot (its upgrade timer, Upgrade/): the instance named <paramref name="hostname"/>
    /// when <paramref name="credential"/> is its instance credential and the call comes from its address, as for the
    /// broker look-up. Null with the refusal otherwise.
    /// </summary>
    public async Task<(long? InstanceId, ProvisionResult? Refused)> AuthenticateGuestAsync(string hostname, string credential, IPAddress? caller, CancellationToken ct)
    {
        var (instance, denied) = await AuthenticateAsync(hostname, null, credential, caller, ct);
        if (instance is null)
        {
            return (null, denied);
        }

        return await addressCheck.CheckAsync(instance, caller, withCredential: true, ct) is { } refused ? (null, refused) : (instance.Id, null);
    }

    /// <summary>
    /// The instance named <paramref name="hostname"/> when <paramref name="credential"/> is the one its first fetch
    /// handed out, or (no credential) when the secret is that of the release it was cloned from.
    /// </summary>
    private async Task<(ProvisionInstance? Instance, ProvisionResult? Denied)> AuthenticateAsync(string hostname, string? secret, string? credential, IPAddress? caller, CancellationToken ct)
    {
        const string sql = """
            SELECT i.id AS Id, i.hostname AS Hostname, i.type AS Type, i.state AS State, i.release AS Release, i.node AS Node, i.vmid AS Vmid,
                   COALESCE(i.kind, t.kind, 'lxc') AS Kind, i.project_id AS ProjectId, i.ip AS Ip, i.personalising_at AS PersonalisingAt
            FROM instances i LEFT JOIN templates t ON t.release = i.release AND t.name = i.type
            WHERE i.hostname = @hostname AND i.state <> 'deleted';
            """;
        ProvisionInstance? instance;
        await using (var connection = await database.OpenAsync(ct))
        {
            instance = await connection.QuerySingleOrDefaultAsync<ProvisionInstance>(new CommandDefinition(sql, new { hostname }, cancellationToken: ct));
        }

        if (credential is not null)
        {
            // An unknown host name costs a claim lookup and a hash comparison too.
            if (await claims.MatchesAsync(instance?.Id, credential, ct))
            {
                return (instance, null);
            }

            logger.LogWarning("First-boot call for {Hostname} from {Address} refused: {Reason}", hostname, caller, instance is null ? "no such instance" : "not its instance credential");
            return (null, new ProvisionResult(ProvisionOutcome.Denied, "Unknown host name or wrong instance credential."));
        }

        // An unknown host name costs a secret lookup too.
        var release = instance?.Release ?? await releases.GetActiveNameAsync(ct);
        var expected = release is null ? null : await releaseSecrets.GetAsync(release, ct);
        var matches = CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(secret ?? "")),
            expected is null ? NoSecret : SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
        if (instance is not null && instance.Release is not null && expected is not null && matches)
        {
            return (instance, null);
        }

        logger.LogWarning("First-boot call for {Hostname} from {Address} refused: {Reason}", hostname, caller, instance is null ? "no such instance" : "not the secret of its release");
        return (null, new ProvisionResult(ProvisionOutcome.Denied, "Unknown host name or wrong first-boot secret."));
    }

    private async Task<ProvisionResult?> CheckStateAndAddressAsync(ProvisionInstance instance, IPAddress? caller, bool withCredential, CancellationToken ct)
    {
        switch (instance.State)
        {
            case InstanceStates.Waiting or InstanceStates.Personalising:
                break;
            case InstanceStates.Active or InstanceStates.Failed or InstanceStates.Deleting:
                return Gone();
            default:
                return new ProvisionResult(ProvisionOutcome.NotReady, $"The instance is still being deployed ({instance.State}); try again shortly.");
        }

        return await addressCheck.CheckAsync(instance, caller, withCredential, ct);
    }

    /// <summary>
    /// The instance waits for its first boot without an assignment (deleted, or lost with the database): no retry brings
    /// one, so it fails now with what to do, and the guest is told its first boot is over.
    /// </summary>
    private async Task<ProvisionResult> FailWithoutAssignmentAsync(ProvisionInstance instance, IPAddress? caller, CancellationToken ct)
    {
        var error = $"The orchestrator holds no first-boot assignment for {instance.Hostname} (it was deleted or lost), so the guest cannot be configured. Delete the instance and deploy it again.";
        var move = new Transition(InstanceStates.Failed, "First boot failed: no assignment") { From = FirstBoot, Error = error, ClearDeadline = true, Note = error, Source = Source(caller) };
        if (!await transitions.MoveAsync(instance.Id, move, ct))
        {
            return Gone();
        }

        return new ProvisionResult(ProvisionOutcome.NoAssignment, error);
    }

    /// <summary>Sets the instance's message while its first boot is under way (no state change; nothing when it says so already).</summary>
    private Task NoteAsync(ProvisionInstance instance, string message, CancellationToken ct) => transitions.SayAsync(instance.Id, FirstBoot, message, ct);

    private const string FetchedMessage = "First boot: the guest fetched its assignment";

    internal static readonly string[] FirstBoot = [InstanceStates.Waiting, InstanceStates.Personalising];

    /// <summary>Who moved the instance, in its history: the guest, by the address it called from.</summary>
    private static string Source(IPAddress? caller) => $"guest {caller}";

    private static ProvisionResult Claimed() => new(ProvisionOutcome.Claimed,
        $"The first fetch of this guest's assignment claimed it: send the instance credential it handed out in the {ProvisionApi.CredentialHeader} header. A guest that lost its credential cannot finish its first boot; redeploy the instance.");

    private static ProvisionResult Gone() =>
        new(ProvisionOutcome.Gone, "This guest's first boot is over; its assignment is consumed. Redeploy the instance to start again.");

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex Hostname();
}

/// <summary>The instance a first-boot call names, as the provision endpoints read it.</summary>
internal sealed record ProvisionInstance(long Id, string Hostname, string Type, string State, string? Release, string? Node, long? Vmid, string Kind, long ProjectId, string? Ip,
    DateTimeOffset? PersonalisingAt);
