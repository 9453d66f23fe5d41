using System.Text.Json;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>One service wired into Home Assistant through its config flow, recorded (homeassistant_wiring) so it is not wired twice.</summary>
public sealed class ConfigFlows(
    HomeAssistantRepository sites,
    HomeAssistantClient ha,
    InstanceSteps steps,
    ILogger<ConfigFlows> logger)
{
    public async Task WireAsync(InstanceRow instance, Uri url, string token, IReadOnlyList<HomeAssistantWiring> wired, string domain, string target, long? source,
        IReadOnlyDictionary<string, object?> values, IReadOnlyList<string> menuChoices, CancellationToken ct, Func<Uri, string, CancellationToken, Task>? before = null)
    {
        var entries = await ha.GetConfigEntriesAsync(url, token, domain, ct);
        var recorded = wired.FirstOrDefault(w => w.Domain == domain && w.Target == target);
        if (recorded is not null && (recorded.EntryId is null ? entries.Count > 0 : entries.Any(e => e.EntryId == recorded.EntryId)))
        {
            return;
        }

        // Wired before at another address (the service moved: a new DHCP lease): its entry follows it.
        var moved = source is null ? null : wired.FirstOrDefault(w => w.Domain == domain && w.SourceInstanceId == source && w.Target != target);
        await steps.SayAsync(instance, moved is null ? $"Wiring {Name(domain)} ({target})" : $"Re-wiring {Name(domain)}: it moved from {moved.Target} to {target}", ct);
        if (before is not null)
        {
            await before(url, token, ct);
        }

        if (moved?.EntryId is { } old && !UpdatesInPlace(domain) && entries.Any(e => e.EntryId == old))
        {
            // Frigate's flow sets no unique id: a flow with the new URL would add a second entry beside the old one. Only
            // the entry the orchestrator recorded goes, never another.
            await ha.DeleteConfigEntryAsync(url, token, old, ct);
            entries = [.. entries.Where(e => e.EntryId != old)];
            logger.LogInformation("Instance {Instance} ({Hostname}): {Domain} entry {Entry} for {Target} deleted, to be set up again at {NewTarget}", instance.Id, instance.Hostname, domain, old, moved.Target, target);
        }

        var entryId = await RunFlowAsync(url, token, domain, values, menuChoices, ct);
        // Aborted as already configured: zwave_js updated the entry of the same home id (the moved one); else the entry
        // that exists is the one (MQTT allows one entry; Frigate's title is the URL without its scheme).
        entryId ??= moved?.EntryId is { } kept && UpdatesInPlace(domain) && entries.Any(e => e.EntryId == kept) ? kept
            : entries.Count == 1 ? entries[0].EntryId
            : entries.FirstOrDefault(e => domain == "frigate" && Uri.TryCreate(target, UriKind.Absolute, out var t) && e.Title == t.Authority)?.EntryId;
        if (moved is not null)
        {
            await sites.MoveWiringAsync(instance.Id, domain, moved.Target, target, entryId, source, ct);
            logger.LogInformation("Instance {Instance} ({Hostname}): {Domain} re-wired from {OldTarget} to {Target}", instance.Id, instance.Hostname, domain, moved.Target, target);
            return;
        }

        await sites.RecordWiringAsync(instance.Id, domain, target, entryId, source, ct);
        logger.LogInformation("Instance {Instance} ({Hostname}): {Domain} wired to {Target}", instance.Id, instance.Hostname, domain, target);
    }

    /// <summary>
    /// Whether a second config flow for the same service updates its entry: zwave_js's manual step sets the unique id
    /// (the controller's home id) and aborts <c>already_configured</c> with the new URL written into the entry
    /// (<c>_abort_if_unique_id_configured(updates=...)</c>). Frigate's user step only refuses the same URL twice.
    /// </summary>
    private static bool UpdatesInPlace(string domain) => domain == "zwave_js";

    /// <summary>
    /// Runs a config flow step by step as Home Assistant presents it: a menu takes the first of <paramref name="menuChoices"/>
    /// it offers, a form gets the values named by its schema (fields without a value keep their defaults; a required field
    /// without either is an error). Returns the new entry's id, or null when Home Assistant says the service is configured already.
    /// </summary>
    internal async Task<string?> RunFlowAsync(Uri url, string token, string domain, IReadOnlyDictionary<string, object?> values, IReadOnlyList<string> menuChoices, CancellationToken ct)
    {
        var step = await ha.StartConfigFlowAsync(url, token, domain, ct);
        for (var n = 0; n < 12; n++)
        {
            switch (step.Type)
            {
                case "create_entry":
                    return step.Result is { ValueKind: JsonValueKind.Object } entry && entry.TryGetProperty("entry_id", out var id) ? id.GetString() : null;
                case "abort" when step.Reason is "already_configured" or "single_instance_allowed":
                    return null;
                case "abort":
                    throw new HomeAssistantException($"Home Assistant stopped setting up {Name(domain)} ({step.Reason}).");
                case "menu":
                    var choice = menuChoices.FirstOrDefault(c => step.MenuOptions?.Contains(c) == true)
                        ?? await AbandonAsync(url, token, step, $"Home Assistant's {Name(domain)} setup offers {string.Join(", ", step.MenuOptions ?? [])} at step {step.StepId}; the orchestrator knows none of them.", ct);
                    step = await ha.ContinueConfigFlowAsync(url, token, step.FlowId!, new Dictionary<string, object?> { ["next_step_id"] = choice }, ct);
                    break;
                case "form":
                    if (step.Errors is { Count: > 0 } errors)
                    {
                        await AbandonAsync(url, token, step, $"Home Assistant refused the {Name(domain)} settings at step {step.StepId}: {string.Join(", ", errors.Select(e => $"{e.Key}: {e.Value}"))}.", ct);
                    }

                    var data = new Dictionary<string, object?>();
                    foreach (var field in step.Fields)
                    {
                        if (values.TryGetValue(field.Name, out var value) && value is not null)
                        {
                            data[field.Name] = value;
                        }
                        else if (field.Required && field.Default is null)
                        {
                            await AbandonAsync(url, token, step, $"Home Assistant's {Name(domain)} setup asks for '{field.Name}' at step {step.StepId}, which the orchestrator does not know.", ct);
                        }
                    }

                    step = await ha.ContinueConfigFlowAsync(url, token, step.FlowId!, data, ct);
                    break;
                default:
                    await AbandonAsync(url, token, step, $"Home Assistant's {Name(domain)} setup needs a person ({step.Type} at step {step.StepId}).", ct);
                    break;
            }
        }

        // Not left half-way in Home Assistant (a retry starts a new flow).
        if (step.FlowId is { } unfinished)
        {
            await ha.AbortConfigFlowAsync(url, token, unfinished, ct);
        }

        throw new HomeAssistantException($"Home Assistant's {Name(domain)} setup did not finish within 12 steps (the last was {step.Type} {step.StepId}); the orchestrator stopped it.");
    }

    private async Task<string> AbandonAsync(Uri url, string token, FlowResult step, string message, CancellationToken ct)
    {
        if (step.FlowId is { } flowId)
        {
            await ha.AbortConfigFlowAsync(url, token, flowId, ct);
        }

        throw new HomeAssistantException(message);
    }

    private static string Name(string domain) => domain switch
    {
        "mqtt" => "MQTT",
        "zwave_js" => "Z-Wave JS",
        "frigate" => "Frigate",
        _ => domain,
    };
}
