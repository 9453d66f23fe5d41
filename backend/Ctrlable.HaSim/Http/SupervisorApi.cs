using System.Text.Json.Nodes;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Http;

/// <summary>An add-on as Supervisor reports it.</summary>
internal sealed class SimAddon(string slug, string name, string version, JsonObject options)
{
    public string Slug { get; } = slug;

    public string Name { get; } = name;

    public string Version { get; } = version;

    public bool Installed { get; set; }

    public string State { get; set; } = "stopped";

    public JsonObject Options { get; set; } = options;
}

/// <summary>
/// The part of Supervisor the WebSocket <c>supervisor/api</c> passthrough reaches (hassio/websocket_api.py): admins may call
/// any endpoint, others only <c>/ingress/session</c> and <c>/addons/&lt;slug&gt;/info</c>. Modelled: <c>/info</c>,
/// <c>/core/info</c>, <c>/host/info</c>, <c>/network/info</c>, <c>/addons</c>, <c>/store/addons/{slug}/install</c>,
/// <c>/addons/{slug}/info|options|start|stop</c>. Add-on options are validated as a whole (a partial set is refused).
/// </summary>
internal sealed class SupervisorApi(HaRuntime ha, Func<int> currentPort)
{
    private readonly Dictionary<string, SimAddon> _addons = new(StringComparer.Ordinal)
    {
        ["core_mosquitto"] = new("core_mosquitto", "Mosquitto broker", "6.5.0", new JsonObject
        {
            ["logins"] = new JsonArray(),
            ["require_certificate"] = false,
            ["certfile"] = "fullchain.pem",
            ["keyfile"] = "privkey.pem",
            ["customize"] = new JsonObject { ["active"] = false, ["folder"] = "mosquitto" },
        }),
        ["core_zwave_js"] = new("core_zwave_js", "Z-Wave JS", "0.12.0", new JsonObject
        {
            ["device"] = null,
            ["s0_legacy_key"] = "",
            ["s2_access_control_key"] = "",
            ["s2_authenticated_key"] = "",
            ["s2_unauthenticated_key"] = "",
            ["log_level"] = "info",
        }),
    };

    public Task<JsonNode?> CallAsync(HaPrincipal principal, string endpoint, string method, JsonObject? data, CancellationToken ct)
    {
        _ = ct;
        var path = endpoint.TrimEnd('/');
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var nonAdminAllowed = path == "/ingress/session" || (segments is ["addons", _, "info"] && method == "get");
        if (!principal.User.IsAdmin && !nonAdminAllowed)
        {
            throw new WsError("unauthorized", "Unauthorized");
        }

        lock (ha.Sync)
        {
            return Task.FromResult(Call(segments, method.ToLowerInvariant(), data));
        }
    }

    private JsonNode? Call(string[] s, string method, JsonObject? data)
    {
        switch (s, method)
        {
            case (["info"], "get"):
                return new JsonObject
                {
                    ["supervisor"] = "2025.04.1",
                    ["homeassistant"] = ha.Options.HomeAssistantVersion,
                    ["hassos"] = "15.1",
                    ["hostname"] = "homeassistant",
                    ["machine"] = "qemux86-64",
                    ["arch"] = "amd64",
                    ["state"] = "running",
                };
            case (["core", "info"], "get"):
                return new JsonObject
                {
                    ["version"] = ha.Options.HomeAssistantVersion,
                    ["version_latest"] = ha.Options.HomeAssistantVersion,
                    ["machine"] = "qemux86-64",
                    ["port"] = currentPort(),
                    ["ssl"] = false,
                    ["watchdog"] = true,
                };
            case (["host", "info"], "get"):
                return new JsonObject { ["hostname"] = "homeassistant", ["operating_system"] = "Home Assistant OS 15.1", ["chassis"] = "vm" };
            case (["network", "info"], "get"):
                return new JsonObject
                {
                    ["interfaces"] = new JsonArray(new JsonObject
                    {
                        ["interface"] = "enp0s18",
                        ["type"] = "ethernet",
                        ["enabled"] = true,
                        ["connected"] = true,
                        ["primary"] = true,
                        ["ipv4"] = new JsonObject { ["method"] = "auto", ["address"] = new JsonArray($"{ha.Options.Address}/24"), ["ready"] = true },
                    }),
                    ["docker"] = new JsonObject { ["interface"] = "hassio", ["address"] = "172.30.32.0/23", ["gateway"] = "172.30.32.1", ["dns"] = "172.30.32.3" },
                    ["host_internet"] = false,
                    ["supervisor_internet"] = false,
                };
            case (["addons"], "get"):
                return new JsonObject
                {
                    ["addons"] = new JsonArray([.. _addons.Values.Where(a => a.Installed).Select(a => (JsonNode)new JsonObject
                    {
                        ["slug"] = a.Slug,
                        ["name"] = a.Name,
                        ["version"] = a.Version,
                        ["state"] = a.State,
                    })]),
                };
            case (["store", "addons", var slug, "install"], "post"):
                Addon(slug, mustBeInstalled: false).Installed = true;
                return null;
            case (["addons", var slug, "info"], "get"):
                {
                    var a = Addon(slug, mustBeInstalled: false);
                    return new JsonObject
                    {
                        ["slug"] = a.Slug,
                        ["name"] = a.Name,
                        ["version"] = a.Installed ? a.Version : null,
                        ["version_latest"] = a.Version,
                        ["state"] = a.Installed ? a.State : "unknown",
                        ["options"] = a.Installed ? a.Options.DeepClone() : new JsonObject(),
                    };
                }

            case (["addons", var slug, "options"], "post"):
                {
                    var a = Addon(slug, mustBeInstalled: true);
                    if (data?["options"] is JsonObject options)
                    {
                        foreach (var (key, _) in a.Options)
                        {
                            if (!options.ContainsKey(key))
                            {
                                throw new WsError("unknown_error", $"Missing option '{key}' in root in {a.Name} ({a.Slug})");
                            }
                        }

                        a.Options = (JsonObject)options.DeepClone();
                    }

                    return null;
                }

            case (["addons", var slug, "start"], "post"):
                Addon(slug, mustBeInstalled: true).State = "started";
                return null;
            case (["addons", var slug, "stop"], "post"):
                Addon(slug, mustBeInstalled: true).State = "stopped";
                return null;
            case (["ingress", "session"], "post"):
                return new JsonObject { ["session"] = HaConfig.NewSecret() };
            default:
                throw new WsError("unknown_error", $"Unknown Supervisor endpoint /{string.Join('/', s)}");
        }
    }

    private SimAddon Addon(string slug, bool mustBeInstalled) =>
        _addons.TryGetValue(slug, out var a) && (a.Installed || !mustBeInstalled)
            ? a
            : throw new WsError("unknown_error", mustBeInstalled ? "App is not installed" : "App does not exist in the store");
}
