using System.Text.Json.Nodes;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Flows;

/// <summary>A config flow in progress (Core memory: gone after a restart).</summary>
internal sealed class ConfigFlow(string flowId, string handler, bool showAdvanced)
{
    public string FlowId { get; } = flowId;

    public string Handler { get; } = handler;

    public bool ShowAdvanced { get; } = showAdvanced;

    /// <summary>The step the flow waits in, and what it showed (a form's fields or a menu's options).</summary>
    public string StepId { get; set; } = "user";

    public IReadOnlyList<FlowField>? Fields { get; set; }

    public IReadOnlyList<string>? MenuOptions { get; set; }

    public JsonObject? LastResult { get; set; }
}

/// <summary>
/// The config flows the orchestrator drives, with HAOS's step sequences (haos.md §4, core tests):
/// <list type="bullet">
/// <item><c>mqtt</c>: menu <c>user</c> [addon, broker] → form <c>broker</c> (broker, port, username, password) → connection test
/// (<see cref="HaSimOptions.MqttCheck"/>; <c>cannot_connect</c>) → entry; a second flow aborts <c>single_instance_allowed</c>.</item>
/// <item><c>zwave_js</c>: menu <c>installation_type</c> [intent_recommended, intent_custom] → form <c>on_supervisor</c> (use_addon)
/// → form <c>manual</c> (url) → server info (<see cref="HaSimOptions.ZwaveJsCheck"/>; <c>invalid_ws_url</c>, <c>cannot_connect</c>)
/// → entry with the home id as unique id; the same home id aborts <c>already_configured</c>.</item>
/// <item><c>frigate</c> (custom integration, present only when /config has <c>custom_components/frigate</c>): form <c>user</c>
/// (url, validate_ssl, username, password) → <c>/api/stats</c> (<see cref="HaSimOptions.FrigateCheck"/>; <c>cannot_connect</c>)
/// → entry; the same URL aborts <c>already_configured</c>.</item>
/// </list>
/// The add-on paths (Supervisor installing Mosquitto / Z-Wave JS) are not modelled: they abort with the add-on failure reasons.
/// </summary>
internal sealed class ConfigFlows(HaRuntime ha)
{
    private const string DefaultFrigateUrl = "http://ccab4aaf-frigate:5000";

    public bool HandlerExists(string handler) => handler switch
    {
        "mqtt" or "zwave_js" => true,
        "frigate" => ha.Config.HasCustomComponent("frigate"),
        _ => false,
    };

    /// <summary>Caller holds the lock; null when the handler is unknown.</summary>
    public JsonObject? Start(string handler, bool showAdvanced)
    {
        if (!HandlerExists(handler))
        {
            return null;
        }

        var flow = new ConfigFlow(HaConfig.NewId(), handler, showAdvanced);
        ha.ConfigFlows[flow.FlowId] = flow;
        var result = handler switch
        {
            "mqtt" => ha.Config.ConfigEntries.Any(e => e.Domain == "mqtt")
                ? Abort(flow, "single_instance_allowed")
                : Menu(flow, "user", ["addon", "broker"]),
            "zwave_js" => Menu(flow, "installation_type", ["intent_recommended", "intent_custom"]),
            _ => Form(flow, "user", FrigateFields(DefaultFrigateUrl, true), errors: null),
        };
        return result;
    }

    /// <summary>One step. Runs the connection checks outside the lock; <see cref="FlowInputException"/> for malformed input.</summary>
    public async Task<JsonObject?> ConfigureAsync(string flowId, JsonObject input, CancellationToken ct)
    {
        ConfigFlow? flow;
        lock (ha.Sync)
        {
            flow = ha.ConfigFlows.GetValueOrDefault(flowId);
        }

        if (flow is null)
        {
            return null;
        }

        if (flow.MenuOptions is { } options)
        {
            var next = input["next_step_id"];
            if (input.Count != 1 || next is null || next.GetValueKind() != System.Text.Json.JsonValueKind.String || !options.Contains(next.GetValue<string>()))
            {
                var quoted = string.Join(", ", options.Select(o => $"'{o}'"));
                throw new FlowInputException($"value must be one of [{quoted}] for dictionary value @ data['next_step_id']");
            }

            lock (ha.Sync)
            {
                return MenuChoice(flow, next.GetValue<string>());
            }
        }

        var data = FlowSchema.Validate(flow.Fields ?? [], input);
        lock (ha.Sync)
        {
            if (ha.EndlessFlows.Contains(flow.Handler))
            {
                // Fault knob: the integration asks the same again, without an error, for ever.
                return Form(flow, flow.StepId, flow.Fields ?? [], errors: null);
            }
        }

        return (flow.Handler, flow.StepId) switch
        {
            ("mqtt", "broker") => await MqttBrokerAsync(flow, data, ct),
            ("zwave_js", "on_supervisor") => ZwaveOnSupervisor(flow, data),
            ("zwave_js", "manual") => await ZwaveManualAsync(flow, data, ct),
            ("frigate", "user") => await FrigateUserAsync(flow, data, ct),
            _ => throw new FlowInputException($"Handler {flow.Handler} does not support step {flow.StepId}"),
        };
    }

    /// <summary>The flows in progress (WS <c>config_entries/flow/progress</c>).</summary>
    public JsonArray Progress()
    {
        lock (ha.Sync)
        {
            return [.. ha.ConfigFlows.Values.Select(f => (JsonNode)new JsonObject
            {
                ["flow_id"] = f.FlowId,
                ["handler"] = f.Handler,
                ["step_id"] = f.StepId,
                ["context"] = new JsonObject { ["source"] = "user", ["show_advanced_options"] = f.ShowAdvanced },
            })];
        }
    }

    private JsonObject MenuChoice(ConfigFlow flow, string choice) => (flow.Handler, choice) switch
    {
        ("mqtt", "broker") => Form(flow, "broker", MqttFields(flow.ShowAdvanced, null), errors: null),
        ("mqtt", "addon") => Abort(flow, "addon_connection_failed"),
        ("zwave_js", "intent_custom") => Form(flow, "on_supervisor", [new FlowField("use_addon", FieldKind.Boolean, false, true)], errors: null),
        ("zwave_js", "intent_recommended") => Abort(flow, "addon_install_failed"),
        _ => Abort(flow, "unknown"),
    };

    private async Task<JsonObject> MqttBrokerAsync(ConfigFlow flow, JsonObject data, CancellationToken ct)
    {
        var attempt = new MqttConnectAttempt(
            data["broker"]!.GetValue<string>(), data["port"]!.GetValue<int>(), data["username"]?.GetValue<string>(), data["password"]?.GetValue<string>());
        var ok = await ha.Options.MqttCheck(attempt, ct);
        lock (ha.Sync)
        {
            if (!ok)
            {
                return Form(flow, "broker", MqttFields(flow.ShowAdvanced, data), new JsonObject { ["base"] = "cannot_connect" });
            }

            if (ha.Config.ConfigEntries.Any(e => e.Domain == "mqtt"))
            {
                return Abort(flow, "single_instance_allowed");
            }

            return CreateEntry(flow, attempt.Broker, data, uniqueId: null);
        }
    }

    private JsonObject ZwaveOnSupervisor(ConfigFlow flow, JsonObject data)
    {
        lock (ha.Sync)
        {
            return data["use_addon"]!.GetValue<bool>()
                ? Abort(flow, "addon_info_failed")
                : Form(flow, "manual", [new FlowField("url", FieldKind.String, true, "ws://localhost:3000")], errors: null);
        }
    }

    private async Task<JsonObject> ZwaveManualAsync(ConfigFlow flow, JsonObject data, CancellationToken ct)
    {
        var text = data["url"]!.GetValue<string>();
        var valid = Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "ws" or "wss";
        var info = valid ? await ha.Options.ZwaveJsCheck(url!, ct) : null;
        lock (ha.Sync)
        {
            if (!valid || info is null)
            {
                return Form(flow, "manual", [new FlowField("url", FieldKind.String, true, text)],
                    new JsonObject { ["base"] = valid ? "cannot_connect" : "invalid_ws_url" });
            }

            var uniqueId = info.HomeId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var existing = ha.Config.ConfigEntries.FindIndex(e => e.Domain == "zwave_js" && e.UniqueId == uniqueId);
            if (existing >= 0)
            {
                // _abort_if_unique_id_configured(updates={url}): the entry follows the server's new address.
                var entry = ha.Config.ConfigEntries[existing];
                var updated = (JsonObject)entry.Data.DeepClone();
                updated["url"] = text;
                ha.Config.ConfigEntries[existing] = entry with { Data = updated };
                return Abort(flow, "already_configured");
            }

            return CreateEntry(flow, "Z-Wave JS", new JsonObject
            {
                ["url"] = text,
                ["usb_path"] = null,
                ["s0_legacy_key"] = null,
                ["s2_access_control_key"] = null,
                ["s2_authenticated_key"] = null,
                ["s2_unauthenticated_key"] = null,
                ["lr_s2_access_control_key"] = null,
                ["lr_s2_authenticated_key"] = null,
                ["use_addon"] = false,
                ["integration_created_addon"] = false,
            }, uniqueId);
        }
    }

    private async Task<JsonObject> FrigateUserAsync(ConfigFlow flow, JsonObject data, CancellationToken ct)
    {
        var text = data["url"]!.GetValue<string>();
        var valid = Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https";
        var ok = valid && await ha.Options.FrigateCheck(url!, ct);
        lock (ha.Sync)
        {
            if (!ok)
            {
                return Form(flow, "user", FrigateFields(text, data["validate_ssl"]!.GetValue<bool>()),
                    new JsonObject { ["base"] = valid ? "cannot_connect" : "invalid_url" });
            }

            if (ha.Config.ConfigEntries.Any(e => e.Domain == "frigate" && e.Data["url"]?.GetValue<string>() == text))
            {
                return Abort(flow, "already_configured");
            }

            return CreateEntry(flow, url!.Authority, data, uniqueId: null);
        }
    }

    private static List<FlowField> MqttFields(bool advanced, JsonObject? previous)
    {
        List<FlowField> fields =
        [
            new("broker", FieldKind.Text, true, previous?["broker"]?.DeepClone()),
            new("port", FieldKind.Port, true, previous?["port"]?.DeepClone() ?? 1883),
            new("username", FieldKind.Text, false, previous?["username"]?.DeepClone()),
            new("password", FieldKind.Password, false),
        ];
        if (advanced)
        {
            fields.Add(new FlowField("advanced_options", FieldKind.Boolean, false));
        }

        return fields;
    }

    private static List<FlowField> FrigateFields(string url, bool validateSsl) =>
    [
        new("url", FieldKind.String, true, url),
        new("validate_ssl", FieldKind.Boolean, true, validateSsl),
        new("username", FieldKind.String, false),
        new("password", FieldKind.String, false),
    ];

    // ---- results (data_entry_flow FlowResult as the REST views serialise it) ----

    private JsonObject Form(ConfigFlow flow, string stepId, IReadOnlyList<FlowField> fields, JsonObject? errors)
    {
        flow.StepId = stepId;
        flow.Fields = fields;
        flow.MenuOptions = null;
        return flow.LastResult = new JsonObject
        {
            ["type"] = "form",
            ["flow_id"] = flow.FlowId,
            ["handler"] = flow.Handler,
            ["step_id"] = stepId,
            ["data_schema"] = FlowSchema.Serialize(fields),
            ["errors"] = errors ?? new JsonObject(),
            ["description_placeholders"] = null,
            ["last_step"] = null,
            ["preview"] = null,
        };
    }

    private JsonObject Menu(ConfigFlow flow, string stepId, IReadOnlyList<string> options)
    {
        flow.StepId = stepId;
        flow.Fields = null;
        flow.MenuOptions = options;
        return flow.LastResult = new JsonObject
        {
            ["type"] = "menu",
            ["flow_id"] = flow.FlowId,
            ["handler"] = flow.Handler,
            ["step_id"] = stepId,
            ["data_schema"] = null,
            ["menu_options"] = new JsonArray([.. options.Select(o => (JsonNode)o)]),
            ["description_placeholders"] = null,
        };
    }

    private JsonObject Abort(ConfigFlow flow, string reason)
    {
        ha.ConfigFlows.Remove(flow.FlowId);
        return new JsonObject
        {
            ["type"] = "abort",
            ["flow_id"] = flow.FlowId,
            ["handler"] = flow.Handler,
            ["reason"] = reason,
            ["description_placeholders"] = null,
        };
    }

    private JsonObject CreateEntry(ConfigFlow flow, string title, JsonObject data, string? uniqueId)
    {
        ha.ConfigFlows.Remove(flow.FlowId);
        var entry = new HaConfigEntry(HaConfig.NewId().ToUpperInvariant()[..26], flow.Handler, title, data, "user", uniqueId, ha.Now);
        ha.Config.ConfigEntries.Add(entry);
        return new JsonObject
        {
            ["type"] = "create_entry",
            ["flow_id"] = flow.FlowId,
            ["handler"] = flow.Handler,
            ["title"] = title,
            ["description"] = null,
            ["description_placeholders"] = null,
            ["version"] = 1,
            ["minor_version"] = 1,
            ["options"] = new JsonObject(),
            ["subentries"] = new JsonArray(),
            ["result"] = EntryJson(entry),
        };
    }

    /// <summary><c>entry_json</c> of config/config_entries.py (the entry's data is never exposed).</summary>
    public static JsonObject EntryJson(HaConfigEntry e) => new()
    {
        ["created_at"] = e.CreatedAt.ToUnixTimeMilliseconds() / 1000.0,
        ["entry_id"] = e.EntryId,
        ["domain"] = e.Domain,
        ["modified_at"] = e.CreatedAt.ToUnixTimeMilliseconds() / 1000.0,
        ["title"] = e.Title,
        ["source"] = e.Source,
        ["state"] = "loaded",
        ["supports_options"] = e.Domain is "mqtt" or "zwave_js" or "frigate",
        ["supports_remove_device"] = e.Domain is "mqtt" or "zwave_js",
        ["supports_unload"] = true,
        ["supports_reconfigure"] = e.Domain is "mqtt" or "zwave_js",
        ["supported_subentry_types"] = new JsonObject(),
        ["pref_disable_new_entities"] = false,
        ["pref_disable_polling"] = false,
        ["disabled_by"] = null,
        ["reason"] = null,
        ["error_reason_translation_key"] = null,
        ["error_reason_translation_placeholders"] = null,
        ["num_subentries"] = 0,
    };
}
