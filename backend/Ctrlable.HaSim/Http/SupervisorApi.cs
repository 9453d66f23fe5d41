using System.Net;
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
/// <c>/core/info</c>, <c>/host/info</c>, <c>/host/options</c>, <c>/network/info</c>, <c>/network/interface/{iface}/info|update</c>,
/// <c>/addons</c>, <c>/store/addons/{slug}/install</c>, <c>/addons/{slug}/info|options|start|stop</c>. Add-on options are
/// validated as a whole (a partial set is refused). Host and network changes go to <paramref name="hostChanged"/> (under the
/// runtime's lock): the emulator saves them and moves to a new address. Updates (home-assistant/supervisor at 090ef31):
/// <c>/core/update</c> (api/homeassistant.py SCHEMA_UPDATE {version, backup, background}; with background the job's id at
/// once, homeassistant/core.py update: the image pulled, Core restarted on it; "already installed" refused up front),
/// <c>/os/info</c>, <c>/os/update</c> (os/manager.py update: the bundle installed, <c>version_pending</c> until the reboot),
/// <c>/host/reboot</c> and <c>/jobs/{uuid}</c> go to <paramref name="update"/> (under the lock).
/// </summary>
internal sealed class SupervisorApi(HaRuntime ha, Func<int> currentPort, Action<HaHostSettings> hostChanged, Action<HaUpdate> update)
{
    private readonly SupervisorUpdateApi _updates = new(ha, update);

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
        if (_updates.Handles(s, method))
        {
            return _updates.Call(s, method, data);
        }

        switch (s, method)
        {
            case (["info"], "get"):
                return new JsonObject
                {
                    ["supervisor"] = "2025.04.1",
                    ["homeassistant"] = ha.Versions.Core,
                    ["hassos"] = ha.Versions.Os,
                    ["hostname"] = ha.Host.Hostname,
                    ["machine"] = "qemux86-64",
                    ["arch"] = "amd64",
                    ["state"] = "running",
                };
            case (["core", "info"], "get"):
                return new JsonObject
                {
                    ["version"] = ha.Versions.Core,
                    ["version_latest"] = ha.Versions.Core,
                    ["machine"] = "qemux86-64",
                    ["port"] = currentPort(),
                    ["ssl"] = false,
                    ["watchdog"] = true,
                };
            case (["host", "info"], "get"):
                return new JsonObject
                {
                    ["hostname"] = ha.Host.Hostname,
                    ["llmnr_hostname"] = ha.Host.Hostname,
                    ["operating_system"] = $"Home Assistant OS {ha.Versions.Os}",
                    ["chassis"] = "vm",
                };
            case (["host", "options"], "post"):
                {
                    // api/host.py SCHEMA_OPTIONS {hostname: str}; systemd-hostnamed refuses an invalid name (HostInvalidHostnameError).
                    var body = Body(data, ["hostname"]);
                    if (body.TryGetPropertyValue("hostname", out var value))
                    {
                        var hostname = value is JsonValue v && v.TryGetValue<string>(out var text) ? text : throw Invalid(data, "expected str for dictionary value @ data['hostname']");
                        if (!ValidHostname(hostname))
                        {
                            throw new WsError("unknown_error", $"Invalid hostname '{hostname}'");
                        }

                        ha.Host = ha.Host with { Hostname = hostname };
                        hostChanged(ha.Host);
                    }

                    return null;
                }

            case (["network", "info"], "get"):
                return new JsonObject
                {
                    ["interfaces"] = new JsonArray(InterfaceInfo()),
                    ["docker"] = new JsonObject { ["interface"] = "hassio", ["address"] = "172.30.32.0/23", ["gateway"] = "172.30.32.1", ["dns"] = "172.30.32.3" },
                    ["host_internet"] = false,
                    ["supervisor_internet"] = false,
                };
            case (["network", "interface", var name, "info"], "get"):
                return Known(name) ? InterfaceInfo() : throw new WsError("unknown_error", $"Interface {name} does not exist");
            case (["network", "interface", var name, "update"], "post"):
                {
                    if (!Known(name))
                    {
                        throw new WsError("unknown_error", $"Interface {name} does not exist");
                    }

                    var body = Body(data, ["ipv4", "ipv6", "wifi", "enabled", "mdns", "llmnr"]);
                    if (body.Count == 0)
                    {
                        throw new WsError("unknown_error", "You need to supply at least one option to update");
                    }

                    if (body["ipv4"] is { } ipv4)
                    {
                        ha.Host = Ipv4Setting(ipv4, data);
                        // NetworkManager activates the connection: the interface has its new address from here on.
                        hostChanged(ha.Host);
                    }

                    return null;
                }

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

    private bool Known(string name) => name == HaHostSettings.Interface || name.Equals("default", StringComparison.OrdinalIgnoreCase);

    /// <summary>The LAN interface as api/network.py's interface_struct shapes it.</summary>
    private JsonObject InterfaceInfo()
    {
        var host = ha.Host;
        var address = host.StaticAddress is null ? [$"{ha.DhcpAddress}/24"] : host.Ipv4Address;
        return new JsonObject
        {
            ["interface"] = HaHostSettings.Interface,
            ["type"] = "ethernet",
            ["enabled"] = true,
            ["connected"] = true,
            ["primary"] = true,
            ["mac"] = "BC:24:11:5E:00:18",
            ["ipv4"] = new JsonObject
            {
                ["method"] = host.Ipv4Method,
                ["address"] = new JsonArray([.. address.Select(a => (JsonNode)a)]),
                ["nameservers"] = new JsonArray([.. (host.StaticAddress is null ? ["192.168.1.1"] : host.Ipv4Nameservers).Select(a => (JsonNode)a)]),
                ["gateway"] = host.StaticAddress is null ? "192.168.1.1" : host.Ipv4Gateway,
                ["route_metric"] = null,
                ["ready"] = true,
            },
            ["ipv6"] = new JsonObject
            {
                ["method"] = "auto",
                ["addr_gen_mode"] = "default",
                ["ip6_privacy"] = "default",
                ["address"] = new JsonArray(),
                ["nameservers"] = new JsonArray(),
                ["gateway"] = null,
                ["route_metric"] = null,
                ["ready"] = true,
            },
            ["wifi"] = null,
            ["vlan"] = null,
            ["mdns"] = "default",
            ["llmnr"] = "default",
        };
    }

    /// <summary>
    /// api/network.py interface_update: the ipv4 section replaces the whole IPv4 setting (method defaults to static;
    /// address, gateway, nameservers to none), each value coerced as voluptuous does; NetworkManager cannot activate a
    /// static setting without an address.
    /// </summary>
    private HaHostSettings Ipv4Setting(JsonNode ipv4, JsonObject? data)
    {
        if (ipv4 is not JsonObject section)
        {
            throw Invalid(data, "expected a dictionary for dictionary value @ data['ipv4']");
        }

        foreach (var (key, _) in section)
        {
            if (key is not ("address" or "method" or "gateway" or "route_metric" or "nameservers"))
            {
                throw Invalid(data, $"extra keys not allowed @ data['ipv4']['{key}']");
            }
        }

        var method = section["method"] is null ? "static" : Text(section["method"], data, "method");
        if (method is not ("static" or "auto" or "disabled"))
        {
            throw Invalid(data, $"expected InterfaceMethod for dictionary value @ data['ipv4']['method']");
        }

        var addresses = List(section["address"], data, "address").Select(a => Interface(a, data)).ToList();
        var gateway = section["gateway"] is null ? null : Address(Text(section["gateway"], data, "gateway"), data, "gateway");
        var nameservers = List(section["nameservers"], data, "nameservers").Select(n => Address(n, data, "nameservers")).ToList();
        if (method == "static" && addresses.Count == 0)
        {
            throw new WsError("unknown_error", "Activating connection failed, check connection settings.");
        }

        return ha.Host with
        {
            Ipv4Method = method,
            Ipv4Address = method == "static" ? addresses : [],
            Ipv4Gateway = method == "static" ? gateway : null,
            Ipv4Nameservers = method == "static" ? nameservers : [],
        };
    }

    internal static JsonObject Body(JsonObject? data, string[] keys)
    {
        foreach (var (key, _) in data ?? [])
        {
            if (!keys.Contains(key))
            {
                throw Invalid(data, $"extra keys not allowed @ data['{key}']");
            }
        }

        return data ?? [];
    }

    private static string Text(JsonNode? node, JsonObject? data, string key) =>
        node is JsonValue v && v.TryGetValue<string>(out var text) ? text : throw Invalid(data, $"expected str for dictionary value @ data['ipv4']['{key}']");

    private static List<string> List(JsonNode? node, JsonObject? data, string key) =>
        node switch
        {
            null => [],
            JsonArray array => [.. array.Select(a => Text(a, data, key))],
            _ => throw Invalid(data, $"expected list for dictionary value @ data['ipv4']['{key}']"),
        };

    /// <summary>IPv4Interface: an address with an optional prefix length (the network's own address is refused by NetworkManager, not here).</summary>
    private static string Interface(string text, JsonObject? data)
    {
        var parts = text.Split('/');
        if (parts.Length > 2 || !IPAddress.TryParse(parts[0], out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || parts[0].Split('.').Length != 4 || (parts.Length == 2 && !(int.TryParse(parts[1], out var prefix) && prefix is >= 0 and <= 32)))
        {
            throw Invalid(data, "not a valid value for dictionary value @ data['ipv4']['address']");
        }

        return parts.Length == 2 ? $"{address}/{int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)}" : $"{address}/32";
    }

    private static string Address(string text, JsonObject? data, string key) =>
        IPAddress.TryParse(text, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && text.Split('.').Length == 4
            ? address.ToString()
            : throw Invalid(data, $"not a valid value for dictionary value @ data['ipv4']['{key}']");

    /// <summary>voluptuous' humanize_error through api_validate: the message, then "Got" and the data.</summary>
    internal static WsError Invalid(JsonObject? data, string message) =>
        new("unknown_error", $"{message}. Got {data?.ToJsonString() ?? "None"}");

    /// <summary>What systemd-hostnamed accepts as a static host name (hostname_is_valid): dot-separated labels of letters, digits and '-', at most 64 characters.</summary>
    private static bool ValidHostname(string name) =>
        name.Length is > 0 and <= 64 && name.Split('.').All(label =>
            label.Length is > 0 and <= 63 && label[0] != '-' && label[^1] != '-' && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));

    private SimAddon Addon(string slug, bool mustBeInstalled) =>
        _addons.TryGetValue(slug, out var a) && (a.Installed || !mustBeInstalled)
            ? a
            : throw new WsError("unknown_error", mustBeInstalled ? "App is not installed" : "App does not exist in the store");
}
