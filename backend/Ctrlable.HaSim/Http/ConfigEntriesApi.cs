using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Flows;

namespace Ctrlable.HaSim.Http;

/// <summary>components/config/config_entries.py REST views (admin only: 401 otherwise).</summary>
internal sealed class ConfigEntriesApi(State.HaRuntime ha, ConfigFlows flows)
{
    public void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/api/config/config_entries/flow", (HttpContext http) => Admin(http) ?? StartFlow(http));
        app.MapGet("/api/config/config_entries/flow/{flowId}", (HttpContext http, string flowId) => Admin(http) ?? GetFlow(http, flowId));
        app.MapPost("/api/config/config_entries/flow/{flowId}", (HttpContext http, string flowId) => Admin(http) ?? StepFlow(http, flowId));
        app.MapDelete("/api/config/config_entries/flow/{flowId}", (HttpContext http, string flowId) => Admin(http) ?? DeleteFlow(http, flowId));
        app.MapGet("/api/config/config_entries/entry", (HttpContext http) => Admin(http) ?? Entries(http));
        app.MapDelete("/api/config/config_entries/entry/{entryId}", (HttpContext http, string entryId) => Admin(http) ?? DeleteEntry(http, entryId));
    }

    /// <summary>require_admin: an unauthenticated or non-admin request gets aiohttp's 401.</summary>
    private static Task? Admin(HttpContext http) => HaHttp.Principal(http) is { User.IsAdmin: true } ? null : HaHttp.Text(http, 401);

    private async Task StartFlow(HttpContext http)
    {
        if (await HaHttp.ReadJsonAsync(http) is not { } body)
        {
            await HaHttp.Message(http, "Invalid JSON.", 400);
            return;
        }

        if (HaHttp.Check(body, [("handler", true, JsonValueKind.String), ("show_advanced_options", false, JsonValueKind.True)], allowExtra: true) is { } error)
        {
            await HaHttp.Message(http, $"Message format incorrect: {error}", 400);
            return;
        }

        JsonObject? result;
        lock (ha.Sync)
        {
            result = flows.Start(body["handler"]!.GetValue<string>(), body["show_advanced_options"]?.GetValue<bool>() ?? false);
        }

        await (result is null ? HaHttp.Message(http, "Invalid handler specified", 404) : HaHttp.Json(http, result));
    }

    private Task GetFlow(HttpContext http, string flowId)
    {
        lock (ha.Sync)
        {
            return ha.ConfigFlows.TryGetValue(flowId, out var flow) && flow.LastResult is { } last
                ? HaHttp.Json(http, last.DeepClone())
                : HaHttp.Message(http, "Invalid flow specified", 404);
        }
    }

    private async Task StepFlow(HttpContext http, string flowId)
    {
        if (await HaHttp.ReadJsonAsync(http) is not { } body)
        {
            await HaHttp.Message(http, "Invalid JSON.", 400);
            return;
        }

        JsonObject? result;
        try
        {
            result = await flows.ConfigureAsync(flowId, body, http.RequestAborted);
        }
        catch (FlowInputException e)
        {
            await HaHttp.Message(http, $"User input malformed: {e.Message}", 400);
            return;
        }

        await (result is null ? HaHttp.Message(http, "Invalid flow specified", 404) : HaHttp.Json(http, result));
    }

    private Task DeleteFlow(HttpContext http, string flowId)
    {
        lock (ha.Sync)
        {
            return ha.ConfigFlows.Remove(flowId) ? HaHttp.Message(http, "Flow aborted") : HaHttp.Message(http, "Invalid flow specified", 404);
        }
    }

    private Task Entries(HttpContext http)
    {
        var domain = http.Request.Query["domain"].FirstOrDefault();
        lock (ha.Sync)
        {
            return HaHttp.Json(http, new JsonArray([.. ha.Config.ConfigEntries
                .Where(e => domain is null || e.Domain == domain)
                .Select(e => (JsonNode)ConfigFlows.EntryJson(e))]));
        }
    }

    private Task DeleteEntry(HttpContext http, string entryId)
    {
        lock (ha.Sync)
        {
            return ha.Config.ConfigEntries.RemoveAll(e => e.EntryId == entryId) > 0
                ? HaHttp.Json(http, new JsonObject { ["require_restart"] = false })
                : HaHttp.Message(http, "Invalid entry specified", 404);
        }
    }
}
