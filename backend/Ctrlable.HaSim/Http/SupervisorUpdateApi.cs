using System.Text.Json.Nodes;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Http;

internal enum HaUpdateKind { Core, OsInstalled, Reboot }

/// <summary>An update Supervisor was asked for: the emulator carries it out (Core's restart, the reboot).</summary>
internal sealed record HaUpdate(HaUpdateKind Kind, string? Version, HaJob? Job);

/// <summary>
/// Supervisor's update endpoints (home-assistant/supervisor at 090ef31): <c>/core/update</c> (api/homeassistant.py
/// SCHEMA_UPDATE {version, backup, background}; with background the job's id at once; "already installed" refused up
/// front), <c>/os/info</c>, <c>/os/update</c> (os/manager.py update: <c>version_pending</c> until the reboot),
/// <c>/host/reboot</c> and <c>/jobs/{uuid}</c> (api/jobs.py). Called under the runtime's lock; the emulator carries out
/// what <paramref name="update"/> is told.
/// </summary>
internal sealed class SupervisorUpdateApi(HaRuntime ha, Action<HaUpdate> update)
{
    public bool Handles(string[] s, string method) => (s, method) is (["core", "update"], "post") or (["os", "info"], "get")
        or (["os", "update"], "post") or (["host", "reboot"], "post") or (["jobs", _], "get");

    public JsonNode? Call(string[] s, string method, JsonObject? data)
    {
        switch (s, method)
        {
            case (["core", "update"], "post"):
                {
                    var body = SupervisorApi.Body(data, ["version", "backup", "background"]);
                    var version = body["version"] is { } v ? VersionTag(v, data) : ha.Versions.Core;
                    if (version == ha.Versions.Core)
                    {
                        throw new WsError("unknown_error", $"Home Assistant version {version} is already installed");
                    }

                    var job = new HaJob(Guid.NewGuid().ToString("N"), "home_assistant_core_update", null) { Created = ha.Now };
                    ha.Jobs[job.Uuid] = job;
                    update(new HaUpdate(HaUpdateKind.Core, version, job));
                    // Without background the call waits for the update, which restarts the Core this connection runs through.
                    return body["background"] is JsonValue b && b.TryGetValue<bool>(out var background) && background ? new JsonObject { ["job_id"] = job.Uuid } : null;
                }

            case (["os", "info"], "get"):
                return new JsonObject
                {
                    ["version"] = ha.Versions.Os,
                    ["version_latest"] = ha.Versions.OsPending ?? ha.Versions.Os,
                    ["version_pending"] = ha.Versions.OsPending,
                    ["update_available"] = false,
                    ["board"] = "ova",
                    ["boot"] = "A",
                    ["data_disk"] = "BOOT",
                };
            case (["os", "update"], "post"):
                {
                    var body = SupervisorApi.Body(data, ["version"]);
                    var version = body["version"] is { } v ? VersionTag(v, data) : ha.Versions.Os;
                    if (version == ha.Versions.Os)
                    {
                        throw new WsError("unknown_error", $"Version {version} is already installed");
                    }

                    if (version == ha.Versions.OsPending)
                    {
                        throw new WsError("unknown_error", $"Version {version} is already installed, reboot the system to activate it");
                    }

                    if (ha.FailNextOsUpdate is { } failure)
                    {
                        ha.FailNextOsUpdate = null;
                        ha.Versions = ha.Versions with { OsPending = null };
                        throw new WsError("unknown_error", failure);
                    }

                    // The bundle is downloaded and installed into the other slot before the call answers; a reboot activates it.
                    ha.Versions = ha.Versions with { OsPending = version };
                    update(new HaUpdate(HaUpdateKind.OsInstalled, version, null));
                    return null;
                }

            case (["host", "reboot"], "post"):
                SupervisorApi.Body(data, ["force"]);
                update(new HaUpdate(HaUpdateKind.Reboot, null, null));
                return null;
            case (["jobs", var uuid], "get"):
                {
                    if (!ha.Jobs.TryGetValue(uuid, out var job))
                    {
                        throw new WsError("unknown_error", "Job does not exist");
                    }

                    return new JsonObject
                    {
                        ["name"] = job.Name,
                        ["reference"] = job.Reference,
                        ["uuid"] = job.Uuid,
                        ["progress"] = job.Done ? 100 : 0,
                        ["stage"] = null,
                        ["done"] = job.Done,
                        ["parent_id"] = null,
                        ["errors"] = new JsonArray([.. job.Errors.Select(e => (JsonNode)new JsonObject { ["type"] = "HomeAssistantUpdateError", ["message"] = e, ["stage"] = null })]),
                        ["created"] = job.Created.ToString("O"),
                        ["extra"] = null,
                        ["child_jobs"] = new JsonArray(),
                    };
                }

            default:
                throw new WsError("unknown_error", $"Unknown Supervisor endpoint /{string.Join('/', s)}");
        }
    }

    /// <summary>validate.py version_tag: a version as text (AwesomeVersion); anything else is refused as voluptuous words it.</summary>
    private static string VersionTag(JsonNode node, JsonObject? data) =>
        node is JsonValue v && v.TryGetValue<string>(out var text) && text.Length > 0
            ? text
            : throw SupervisorApi.Invalid(data, "Invalid version for dictionary value @ data['version']");
}
