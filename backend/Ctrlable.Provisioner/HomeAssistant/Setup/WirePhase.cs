using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>
/// Home Assistant step "wiring": the project's broker, Z-Wave JS and Frigate instances wired in through config flows
/// (<see cref="ConfigFlows"/>), after the host's name and address (<see cref="HostConfiguration"/>).
/// </summary>
public sealed class WirePhase(
    PhaseSupport support,
    InstanceRepository instances,
    HomeAssistantRepository sites,
    HomeAssistantCredentials credentials,
    ProjectMqttCredentials mqttCredentials,
    HostConfiguration host,
    ConfigFlows flows,
    InstanceSteps steps,
    TimeProvider time,
    ILogger<WirePhase> logger)
{
    private const string MosquittoAddon = "core_mosquitto";

    /// <summary>
    /// Wires the project's broker, Z-Wave JS and Frigate instances into Home Assistant through config flows driven by each
    /// step's type and step id. Waits (bounded) for those instances still on their first boot; later ones wire themselves
    /// when they become active (<see cref="HomeAssistantRewiring"/>). Entries already there are detected, not duplicated.
    /// </summary>
    public async Task RunAsync(InstanceRow instance, CancellationToken ct)
    {
        var site = await sites.GetAsync(instance.Id, ct);
        var rewiring = site.WiredAt is not null;
        if (!rewiring)
        {
            // Once, before the first wiring: a Home Assistant wired already keeps its name and address.
            await host.ConfigureAsync(instance, ct);
            if (!await support.StillAsync(instance, ct))
            {
                return;
            }
        }

        try
        {
            await WireServicesAsync(instance, rewiring, ct);
        }
        catch (HomeAssistantException ex) when (rewiring && !ex.IsTransient)
        {
            // Home Assistant runs and was wired before: a service added later that cannot be wired does not make it failed.
            logger.LogWarning("Instance {Instance} ({Hostname}): wiring a later service failed: {Reason}", instance.Id, instance.Hostname, ex.Message);
            await steps.MoveAsync(instance, InstanceStates.Active, "Running; a service could not be wired", error: ex.Message, ct: ct);
            return;
        }

        if (!await support.StillAsync(instance, ct))
        {
            return;
        }

        await sites.SetWiredAsync(instance.Id, ct);
        await instances.SetDeadlineAsync(instance.Id, null, ct);
        // The platform enrols the site's Home Assistant from the next report (triggered by this move): the instance with
        // its URL, UUID policy, core.uuid and step times (Platform/PlatformRepository); credentials stay here.
        await steps.MoveAsync(instance, InstanceStates.Active, "Home Assistant is ready", ct: ct);
    }

    private async Task WireServicesAsync(InstanceRow instance, bool rewiring, CancellationToken ct)
    {
        var url = await support.UrlAsync(instance, ct);
        var token = await credentials.TokenAsync(instance.Id, ct)
            ?? throw new HomeAssistantException("The orchestrator holds no token for this Home Assistant; retry the instance to sign in again.");
        var deadline = instance.DeadlineAt ?? time.GetUtcNow().AddSeconds(support.Options.WiringWaitSeconds);
        var siblings = await WaitForSiblingsAsync(instance, rewiring ? time.GetUtcNow() : deadline, ct);
        if (siblings is null)
        {
            return;
        }

        var wired = await sites.ListWiringAsync(instance.Id, ct);
        var settings = await SiteSettings.OfProjectAsync(instances, instance.ProjectId, ct);

        // MQTT first: Frigate's integration depends on it.
        var mqtt = await MqttTargetAsync(instance, settings, ct);
        await flows.WireAsync(instance, url, token, wired, "mqtt", mqtt.Target, null, mqtt.Values, ["broker"], ct, mqtt.Before);

        // Each service by its address (or its name where the site's DNS serves the guests' names: SiteAddresses).
        foreach (var (zwave, host) in Reachable(siblings, TemplateTypes.ZwaveJs, settings))
        {
            var target = ZwaveTarget(host);
            await flows.WireAsync(instance, url, token, wired, "zwave_js", target, zwave.Id,
                new Dictionary<string, object?> { ["use_addon"] = false, ["url"] = target }, ["intent_custom", "manual"], ct);
        }

        foreach (var (frigate, host) in Reachable(siblings, TemplateTypes.Frigate, settings))
        {
            var target = FrigateTarget(host);
            await flows.WireAsync(instance, url, token, wired, "frigate", target, frigate.Id,
                new Dictionary<string, object?> { ["url"] = target, ["validate_ssl"] = false }, [], ct);
        }
    }

    private static string ZwaveTarget(string host) => $"ws://{Host(host)}:{AssignmentService.ZwaveServerPort}";

    private static string FrigateTarget(string host) => $"http://{Host(host)}:5000";

    /// <summary>The URL Home Assistant's integration of <paramref name="service"/> (zwavejs, frigate) points at now; null when it is not reachable yet or not wired.</summary>
    internal static string? TargetOf(InstanceRow service, SiteSettings settings) =>
        SiteAddresses.Reach(service, settings) is not { } host ? null : service.Type switch
        {
            TemplateTypes.ZwaveJs => ZwaveTarget(host),
            TemplateTypes.Frigate => FrigateTarget(host),
            _ => null,
        };

    private static IEnumerable<(InstanceRow Instance, string Host)> Reachable(IEnumerable<InstanceRow> siblings, string type, SiteSettings settings) =>
        siblings.Where(s => s.Type == type && s.State == InstanceStates.Active)
            .Select(s => (Instance: s, Host: SiteAddresses.Reach(s, settings)))
            .Where(s => s.Host is not null)
            .Select(s => (s.Instance, s.Host!));

    /// <summary>The project's Z-Wave JS and Frigate instances once none is still deploying (or the wait is over); null when this instance left the step.</summary>
    private async Task<IReadOnlyList<InstanceRow>?> WaitForSiblingsAsync(InstanceRow instance, DateTimeOffset deadline, CancellationToken ct)
    {
        while (await support.StillAsync(instance, ct))
        {
            var siblings = (await instances.ListByProjectAsync(instance.ProjectId, includeDeleted: false, ct))
                .Where(i => i.Type is TemplateTypes.ZwaveJs or TemplateTypes.Frigate).ToList();
            var busy = siblings.Where(i => !i.IsFinished && i.State != InstanceStates.Deleting).ToList();
            if (busy.Count == 0 || time.GetUtcNow() > deadline)
            {
                return siblings;
            }

            await steps.SayAsync(instance, $"Waiting for {string.Join(", ", busy.Select(b => b.Hostname))} to finish before wiring them", ct);
            await Task.Delay(support.Poll, time, ct);
        }

        return null;
    }

    private async Task<(string Target, Dictionary<string, object?> Values, Func<Uri, string, CancellationToken, Task>? Before)> MqttTargetAsync(InstanceRow instance, SiteSettings settings, CancellationToken ct)
    {
        if (settings.Mqtt is { } external)
        {
            var stored = await mqttCredentials.GetAsync(instance.ProjectId, ct);
            var values = new Dictionary<string, object?> { ["broker"] = external.Host, ["port"] = external.Port };
            if (external.Username is not null)
            {
                values["username"] = external.Username;
                values["password"] = stored?.Username == external.Username ? stored.Password : null;
            }

            return ($"{external.Host}:{external.Port}", values, null);
        }

        // The site's own broker: the Mosquitto add-on of this Home Assistant, with the project's per-site user.
        var credentials = await mqttCredentials.GetOrCreateDefaultAsync(instance.ProjectId, ct);
        return ("core-mosquitto:1883",
            new Dictionary<string, object?> { ["broker"] = "core-mosquitto", ["port"] = 1883, ["username"] = credentials.Username, ["password"] = credentials.Password },
            (url, token, c) => EnsureMosquittoLoginAsync(url, token, credentials, c));
    }

    /// <summary>
    /// The project's MQTT user in the Mosquitto add-on (installed and started when the base lacks it). Its options are
    /// validated as a whole: read them, change <c>logins</c>, write them all back; the add-on reads them when it starts.
    /// </summary>
    private async Task EnsureMosquittoLoginAsync(Uri url, string token, MqttCredentials credentials, CancellationToken ct)
    {
        await using var socket = await HomeAssistantSocket.ConnectAsync(url, token, support.RequestTimeout, ct);
        var info = await PhaseSupport.SupervisorAsync(socket, $"/addons/{MosquittoAddon}/info", "get", null, ct);
        if (info.TryGetProperty("version", out var version) && version.ValueKind == JsonValueKind.Null)
        {
            await PhaseSupport.SupervisorAsync(socket, $"/store/addons/{MosquittoAddon}/install", "post", null, ct);
            info = await PhaseSupport.SupervisorAsync(socket, $"/addons/{MosquittoAddon}/info", "get", null, ct);
        }

        var addonOptions = JsonNode.Parse(info.GetProperty("options").GetRawText())?.AsObject() ?? [];
        var logins = addonOptions["logins"] as JsonArray ?? [];
        var mine = logins.OfType<JsonObject>().FirstOrDefault(l => l["username"]?.GetValue<string>() == credentials.Username);
        var started = info.TryGetProperty("state", out var state) && state.GetString() == "started";
        if (mine is not null && mine["password"]?.GetValue<string>() == credentials.Password && started)
        {
            return;
        }

        if (mine is not null)
        {
            logins.Remove(mine);
        }

        logins.Add(new JsonObject { ["username"] = credentials.Username, ["password"] = credentials.Password });
        addonOptions["logins"] = logins;
        await PhaseSupport.SupervisorAsync(socket, $"/addons/{MosquittoAddon}/options", "post", new JsonObject { ["options"] = addonOptions }, ct);
        if (started)
        {
            await PhaseSupport.SupervisorAsync(socket, $"/addons/{MosquittoAddon}/stop", "post", null, ct);
        }

        await PhaseSupport.SupervisorAsync(socket, $"/addons/{MosquittoAddon}/start", "post", null, ct);
    }

    private static string Host(string ip) => ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip;
}
