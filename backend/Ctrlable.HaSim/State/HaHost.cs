using System.Net;

namespace Ctrlable.HaSim.State;

/// <summary>
/// The host settings Supervisor changes through systemd-hostnamed and NetworkManager (its <c>/host/options</c> and
/// <c>/network/interface/{iface}/update</c>): the static host name and the LAN interface's IPv4 setting. They live on the
/// VM's data partition, not in /config, so they survive Core restarts, restores and power cycles.
/// </summary>
public sealed record HaHostSettings
{
    public const string Interface = "enp0s18";

    public const string DefaultHostname = "homeassistant";

    public string Hostname { get; init; } = DefaultHostname;

    /// <summary>auto (DHCP), static or disabled, as Supervisor's InterfaceMethod.</summary>
    public string Ipv4Method { get; init; } = "auto";

    /// <summary>Static addresses with prefix length (<c>192.168.1.50/24</c>); empty with DHCP.</summary>
    public IReadOnlyList<string> Ipv4Address { get; init; } = [];

    public string? Ipv4Gateway { get; init; }

    public IReadOnlyList<string> Ipv4Nameservers { get; init; } = [];

    /// <summary>The address the static setting gives the interface; null with DHCP.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IPAddress? StaticAddress =>
        Ipv4Method == "static" && Ipv4Address.Count > 0 && IPAddress.TryParse(Ipv4Address[0].Split('/')[0], out var address) ? address : null;
}
