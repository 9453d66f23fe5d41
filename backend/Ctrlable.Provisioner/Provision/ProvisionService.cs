using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Dapper;
using Microsoft.Extensions.Options;

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
    Deploy.SiteAddresses siteAddresses,
    ProxmoxClient proxmox,
    IInstanceEvents events,
    IOptions<ProvisionOptions> options,
    TimeProvider time,
    ProvisionerMetrics metrics,
    ILogger<ProvisionService> logger)
{
    // Compared against when there is no expected secret, so a miss costs what a hit costs.
    private static readonly byte[] NoSecret = RandomNumberGenerator.GetBytes(32);

    public static bool IsValidHostname(string? hostname) => hostname is not null && Hostname().IsMatch(hostname);

    /// <summary>
    /// The assignment, for the release secret (<paramref name="credential"/> null: the fetch claims the assignment and
    /// the answer carries a new instance credential; refused once the claim is confirmed) or the instance credential
    /// (its first use confirms the claim).
    /// </summary>
    public async Task<ProvisionResult> FetchAssignmentAsync(string hostname, string? secret, string? credential, IPAddress? caller, CancellationToken ct)
    {
        var (instance, denied) = await AuthenticateAsync(hostname, secret, credential, caller, ct);
        if (instance is null)
        {
            return denied!;
        }

        if (await CheckStateAndAddressAsync(instance, caller, ct) is { } refused)
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
        if (credential is null)
        {
            issued = await claims.IssueAsync(instance.Id, caller, ct);
            if (issued is null)
            {
                logger.LogWarning("First-boot call for {Hostname} from {Address} refused: its assignment is claimed, only its instance credential reads it", hostname, caller);
                return new ProvisionResult(ProvisionOutcome.Claimed,
                    $"The first fetch of this guest's assignment claimed it: send the instance credential it handed out in the {ProvisionApi.CredentialHeader} header. A guest that lost its credential cannot finish its first boot; redeploy the instance.");
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
            const string sql = """
                UPDATE instances SET state = 'personalising', message = @message, ip = @ip,
                                     personalising_at = COALESCE(personalising_at, @now), updated_at = @now
                WHERE id = @id AND state = 'waiting';
                """;
            await MoveAsync(instance, InstanceStates.Personalising, "Assignment fetched", caller, sql, new { id = instance.Id, message = FetchedMessage, ip = caller?.ToString(), now = time.GetUtcNow() }, ct);
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

        if (await CheckStateAndAddressAsync(instance, caller, ct) is { } refused)
        {
            return refused;
        }

        var to = report.Status == CompletionStatus.Ok ? InstanceStates.Active : InstanceStates.Failed;
        var message = string.IsNullOrWhiteSpace(report.Message) ? (to == InstanceStates.Active ? "First boot done" : "First boot failed") : report.Message;
        const string sql = """
            UPDATE instances SET state = @to, message = @status, firstboot_message = @message, installed_versions = @versions, error = @error,
                                 ip = @ip, completed_at = @now, deadline_at = NULL, updated_at = @now
            WHERE id = @id AND state IN ('waiting', 'personalising');
            """;
        var parameters = new
        {
            id = instance.Id,
            to,
            status = to == InstanceStates.Active ? "Running" : "First boot failed",
            message,
            versions = JsonSerializer.Serialize(report.Versions),
            error = to == InstanceStates.Failed ? message : null,
            ip = caller?.ToString(),
            now = time.GetUtcNow(),
        };
        if (!await MoveAsync(instance, to, message, caller, sql, parameters, ct))
        {
            return Gone();
        }

        if (instance.PersonalisingAt is { } fetched)
        {
            metrics.FirstBoot(instance.Type, to == InstanceStates.Active ? "ok" : "failed", parameters.now - fetched);
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

        if (await CheckAddressAsync(instance, caller, ct) is { } refused)
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

    private async Task<ProvisionResult?> CheckStateAndAddressAsync(ProvisionInstance instance, IPAddress? caller, CancellationToken ct)
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

        return await CheckAddressAsync(instance, caller, ct);
    }

    /// <summary>
    /// The call must come from an address Proxmox reports for the guest (unless <see cref="ProvisionOptions.RequireGuestAddress"/>
    /// is off). After the first boot the address the orchestrator last saw the guest at (<c>instances.ip</c>, kept current
    /// under DHCP by the address follower) is taken without asking Proxmox, so a guest's periodic call costs no Proxmox request.
    /// </summary>
    private async Task<ProvisionResult?> CheckAddressAsync(ProvisionInstance instance, IPAddress? caller, CancellationToken ct)
    {
        if (!options.Value.RequireGuestAddress)
        {
            return null;
        }

        if (instance.State == InstanceStates.Active && caller is not null && instance.Ip is not null
            && IPAddress.TryParse(instance.Ip, out var known) && known.Equals(caller.IsIPv4MappedToIPv6 ? caller.MapToIPv4() : caller))
        {
            return null;
        }

        if (caller is null || instance.Node is null || instance.Vmid is null)
        {
            return caller is null
                ? new ProvisionResult(ProvisionOutcome.AddressMismatch, "The caller's address is unknown.")
                : new ProvisionResult(ProvisionOutcome.NotReady, "The guest's place in Proxmox is not recorded yet; try again shortly.");
        }

        IReadOnlyList<GuestInterface>? interfaces;
        try
        {
            interfaces = await proxmox.GetGuestInterfacesAsync(instance.Node, instance.Kind == "vm" ? GuestKind.Qemu : GuestKind.Lxc, (int)instance.Vmid.Value, ct);
        }
        catch (Exception ex) when (ex is ProxmoxException or HttpRequestException or TimeoutException or ProxmoxCertificateException or Polly.Timeout.TimeoutRejectedException)
        {
            logger.LogWarning("Cannot check the address of {Hostname}: Proxmox answered {Reason}", instance.Hostname, ex.Message);
            // The guest retries by itself; the dealer sees why its first boot does not move on.
            await NoteAsync(instance, $"First boot: the guest called, but {Unavailable(ex)}, so its address cannot be checked; the guest tries again", ct);
            return new ProvisionResult(ProvisionOutcome.ProxmoxUnavailable, "Proxmox could not tell the guest's addresses; try again shortly.");
        }

        var addresses = GuestAddresses(interfaces);
        if (addresses.Count == 0)
        {
            await NoteAsync(instance, "First boot: the guest called, but Proxmox reports no address for it yet (is its network up?); the guest tries again", ct);
            return new ProvisionResult(ProvisionOutcome.NotReady, "Proxmox reports no address for the guest yet; try again shortly.");
        }

        var from = caller.IsIPv4MappedToIPv6 ? caller.MapToIPv4() : caller;
        if (addresses.Contains(from))
        {
            return null;
        }

        logger.LogWarning("First-boot call for {Hostname} came from {Address}, which Proxmox does not report for the guest", instance.Hostname, from);
        return new ProvisionResult(ProvisionOutcome.AddressMismatch,
            $"The call came from {from}, which is not an address Proxmox reports for {instance.Hostname}.");
    }

    /// <summary>Every address of the guest's interfaces but the loopback interface's.</summary>
    internal static HashSet<IPAddress> GuestAddresses(IReadOnlyList<GuestInterface>? interfaces)
    {
        var result = new HashSet<IPAddress>();
        foreach (var nic in interfaces ?? [])
        {
            if (nic.Name == "lo")
            {
                continue;
            }

            result.UnionWith(nic.Addresses(withInet6: true).Where(address =>
                !address.Equals(IPAddress.Loopback) && !address.Equals(IPAddress.IPv6Loopback)
                && !(address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv6LinkLocal)));
        }

        return result;
    }

    /// <summary>Runs the state change and records it, in one transaction; false when the instance was no longer in a state the change applies to.</summary>
    private async Task<bool> MoveAsync(ProvisionInstance instance, string to, string message, IPAddress? caller, string sql, object parameters, CancellationToken ct)
    {
        const string record = """
            INSERT INTO instance_state_changes (instance_id, at, from_state, to_state, message, source)
            VALUES (@id, @now, @from, @to, @message, @source);
            """;
        var now = time.GetUtcNow();
        await using (var connection = await database.OpenAsync(ct))
        {
            await using var tx = await connection.BeginTransactionAsync(ct);
            if (await connection.ExecuteAsync(new CommandDefinition(sql, parameters, tx, cancellationToken: ct)) == 0)
            {
                return false;
            }

            await connection.ExecuteAsync(new CommandDefinition(record,
                new { id = instance.Id, now, from = instance.State, to, message, source = $"guest {caller}" }, tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }

        events.Publish(new InstanceStateChange(instance.Id, instance.Hostname, instance.State, to, message, now));
        return true;
    }

    /// <summary>
    /// The instance waits for its first boot without an assignment (deleted, or lost with the database): no retry brings
    /// one, so it fails now with what to do, and the guest is told its first boot is over.
    /// </summary>
    private async Task<ProvisionResult> FailWithoutAssignmentAsync(ProvisionInstance instance, IPAddress? caller, CancellationToken ct)
    {
        const string sql = """
            UPDATE instances SET state = 'failed', message = 'First boot failed: no assignment', error = @error, deadline_at = NULL, updated_at = @now
            WHERE id = @id AND state IN ('waiting', 'personalising');
            """;
        var error = $"The orchestrator holds no first-boot assignment for {instance.Hostname} (it was deleted or lost), so the guest cannot be configured. Delete the instance and deploy it again.";
        if (!await MoveAsync(instance, InstanceStates.Failed, error, caller, sql, new { id = instance.Id, error, now = time.GetUtcNow() }, ct))
        {
            return Gone();
        }

        return new ProvisionResult(ProvisionOutcome.NoAssignment, error);
    }

    /// <summary>Sets the instance's message while its first boot is under way (no state change; nothing when it says so already).</summary>
    private async Task NoteAsync(ProvisionInstance instance, string message, CancellationToken ct)
    {
        const string sql = """
            UPDATE instances SET message = @message, updated_at = @now
            WHERE id = @id AND state IN ('waiting', 'personalising') AND message IS NOT @message;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { id = instance.Id, message, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>Why Proxmox could not tell a guest's addresses, for the dealer (Proxmox's own text; never a credential).</summary>
    private static string Unavailable(Exception ex) => ex switch
    {
        ProxmoxException p => $"Proxmox answered {(int)p.Status} ({p.ProxmoxMessage})",
        ProxmoxCertificateException => "the Proxmox node's certificate does not match the pinned fingerprint",
        HttpRequestException => "Proxmox could not be reached",
        _ => "Proxmox did not answer in time",
    };

    private const string FetchedMessage = "First boot: the guest fetched its assignment";

    private static ProvisionResult Gone() =>
        new(ProvisionOutcome.Gone, "This guest's first boot is over; its assignment is consumed. Redeploy the instance to start again.");

    private sealed record ProvisionInstance(long Id, string Hostname, string Type, string State, string? Release, string? Node, long? Vmid, string Kind, long ProjectId, string? Ip,
        DateTimeOffset? PersonalisingAt);

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex Hostname();
}
