using System.Globalization;
using System.Text.Json;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>How often the orchestrator looks where the guests of DHCP sites are (<see cref="AddressFollower"/>).</summary>
public sealed class AddressingOptions
{
    public const string Section = "Addressing";

    /// <summary>
    /// Seconds between two looks at the addresses of active guests of DHCP sites: one Proxmox request per guest each time
    /// (LXC interfaces, Home Assistant's guest agent). 0 turns following off.
    /// </summary>
    public double FollowIntervalSeconds { get; set; } = 60;
}

/// <summary>Checks <see cref="AddressingOptions"/> at start: one line per problem.</summary>
public sealed class AddressingOptionsValidator : IValidateOptions<AddressingOptions>
{
    public ValidateOptionsResult Validate(string? name, AddressingOptions options) =>
        options.FollowIntervalSeconds == 0 || options.FollowIntervalSeconds is >= 1 and <= 86400
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Addressing:FollowIntervalSeconds must be 0 (off) or between 1 and 86400 seconds (got {options.FollowIntervalSeconds.ToString(CultureInfo.InvariantCulture)}).");
}

/// <summary>What one look saw: the instances whose address was read, and those that moved.</summary>
public sealed record AddressFollowRound(IReadOnlyList<long> Checked, IReadOnlyList<AddressMove> Moved);

public sealed record AddressMove(long InstanceId, string Hostname, string Type, string? From, string To);

/// <summary>
/// Follows the guests of DHCP sites to the addresses their leases give them. Every
/// <see cref="AddressingOptions.FollowIntervalSeconds"/> it reads, for each active instance of a project that uses DHCP
/// and does not reach its guests by name (<see cref="AddressingSettings.DnsServesHostnames"/>), the address Proxmox
/// reports — one request per guest: LXC <c>GET …/interfaces</c>, ctrlable-pro the guest agent's
/// <c>network-get-interfaces</c> — on the NIC with the instance's MAC, with the filter Home Assistant's locating step uses.
/// When it changed, and the guest at the VMID still carries the instance's marker, it records the new <c>ip</c> (and
/// Home Assistant's URL) and a history row through <see cref="InstanceTransitions"/>, which tells the live view; <see cref="HomeAssistantRewiring"/> points Home
/// Assistant's Z-Wave JS or Frigate entry at a moved service. Guests that hold the old address of a moved Home
/// Assistant (their MQTT broker) follow it themselves (<c>ctrlable-firstboot --follow-broker</c>, first-boot script
/// version 3); older guests get a warning saying what to change. Static plans, name-reached sites and foreign guests are
/// never looked at or touched.
/// </summary>
public sealed class AddressFollower(
    InstanceRepository instances,
    HomeAssistantRepository sites,
    HomeAssistantClient homeAssistant,
    ProxmoxClient proxmox,
    GuestLocator locator,
    InstanceTransitions transitions,
    IOptions<AddressingOptions> options,
    TimeProvider time,
    ILogger<AddressFollower> logger) : BackgroundService
{
    /// <summary>The first-boot script version from which zigbee2mqtt and frigate guests follow their broker themselves.</summary>
    public const int BrokerFollowingScriptVersion = 3;

    private const string Source = "orchestrator (DHCP lease followed)";

    private readonly SemaphoreSlim _round = new(1, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.FollowIntervalSeconds;
        if (interval <= 0)
        {
            logger.LogInformation("Following DHCP addresses is off (Addressing:FollowIntervalSeconds = 0)");
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(interval), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await FollowOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Following the guests' DHCP addresses failed this time: {Reason}", ex.Message);
            }
        }
    }

    /// <summary>One look at every followed guest (rounds never overlap).</summary>
    public async Task<AddressFollowRound> FollowOnceAsync(CancellationToken ct)
    {
        await _round.WaitAsync(ct);
        try
        {
            return await RoundAsync(ct);
        }
        finally
        {
            _round.Release();
        }
    }

    private async Task<AddressFollowRound> RoundAsync(CancellationToken ct)
    {
        var settings = (await instances.ListProjectsAsync(ct)).ToDictionary(p => p.Id, p => SiteSettings.FromJson(p.SettingsJson));
        var checkedIds = new List<long>();
        var moves = new List<AddressMove>();
        var followed = (await instances.ListLiveAsync(ct))
            .Where(i => settings.TryGetValue(i.ProjectId, out var site) && Follows(site, i) && KindOf(i) is not null).ToList();
        // Where each guest is now (one /cluster/resources read): Proxmox may have moved one since its node was recorded.
        foreach (var instance in await locator.LocateAllAsync(followed, ct))
        {
            var (site, kind) = (settings[instance.ProjectId], KindOf(instance)!.Value);
            checkedIds.Add(instance.Id);
            IReadOnlyList<GuestInterface>? interfaces;
            try
            {
                interfaces = await proxmox.GetGuestInterfacesAsync(instance.Node!, kind, (int)instance.Vmid!.Value, ct);
            }
            catch (ProxmoxException ex)
            {
                // Stopped, or the guest agent not answering (yet): nothing to learn now.
                logger.LogDebug("Address of {Hostname} not read: {Reason}", instance.Hostname, ex.Message);
                continue;
            }

            var seen = LocatePhase.LanAddresses(interfaces, instance.Mac);
            if (seen.Count == 0)
            {
                continue;
            }

            if (instance.Ip is { } known && seen.Contains(known))
            {
                if (instance.Type == TemplateTypes.CtrlablePro)
                {
                    // Moved earlier, but Home Assistant did not answer at the new address yet.
                    await FollowHomeAssistantUrlAsync(instance, known, ct);
                }

                continue;
            }

            if (await MoveAsync(instance, kind, seen[0], ct) is { } move)
            {
                moves.Add(move);
                await ConsequencesAsync(instance, site, move, ct);
            }
        }

        return new AddressFollowRound(checkedIds, moves);
    }

    /// <summary>DHCP, reached by address, active and placed: the instances whose address is followed.</summary>
    private static bool Follows(SiteSettings site, InstanceRow instance) =>
        site.Addressing.Mode == AddressingMode.Dhcp && !site.Addressing.DnsServesHostnames
        && instance.State == InstanceStates.Active && instance.StaticIp is null && instance.Vmid is not null && instance.Node is not null;

    /// <summary>LXC guests from the host; of the VMs only Home Assistant OS, whose guest agent the orchestrator relies on.</summary>
    private static GuestKind? KindOf(InstanceRow instance) =>
        instance.Kind == "lxc" ? GuestKind.Lxc : instance.Type == TemplateTypes.CtrlablePro ? GuestKind.Qemu : null;

    /// <summary>Records the new address once the guest at the VMID is proven the instance's; null when it is not (left alone).</summary>
    private async Task<AddressMove?> MoveAsync(InstanceRow instance, GuestKind kind, string address, CancellationToken ct)
    {
        IReadOnlyDictionary<string, string> config;
        try
        {
            config = await proxmox.GetGuestConfigAsync(instance.Node!, kind, (int)instance.Vmid!.Value, ct);
        }
        catch (ProxmoxException ex)
        {
            logger.LogWarning("Instance {Instance} ({Hostname}): VMID {Vmid} reports {Address}, but its configuration cannot be read ({Reason}); its address is not followed",
                instance.Id, instance.Hostname, instance.Vmid, address, ex.Message);
            return null;
        }

        if (!GuestOwnership.Carries(config, instance))
        {
            logger.LogWarning("Instance {Instance} ({Hostname}): VMID {Vmid} reports {Address}, but the guest there lacks the instance's marker; its address is not followed",
                instance.Id, instance.Hostname, instance.Vmid, address);
            return null;
        }

        var message = instance.Ip is null
            ? $"Seen at {address}"
            : $"Address changed from {instance.Ip} to {address} (its DHCP lease)";
        if (!await transitions.RecordAddressChangeAsync(instance.Id, instance.Ip, address, message, Source, ct))
        {
            return null;
        }

        logger.LogInformation("Instance {Instance} ({Hostname}): {Message}", instance.Id, instance.Hostname, message);
        return new AddressMove(instance.Id, instance.Hostname, instance.Type, instance.Ip, address);
    }

    private async Task ConsequencesAsync(InstanceRow instance, SiteSettings site, AddressMove move, CancellationToken ct)
    {
        if (instance.Type != TemplateTypes.CtrlablePro)
        {
            // Z-Wave JS and Frigate: HomeAssistantRewiring points Home Assistant's entry at the new address.
            return;
        }

        await FollowHomeAssistantUrlAsync(instance, move.To, ct);
        if (site.Mqtt is not null)
        {
            return;
        }

        // Its Mosquitto is the site's broker: guests wrote its address into their configuration at first boot.
        foreach (var guest in (await instances.ListByProjectAsync(instance.ProjectId, includeDeleted: false, ct))
            .Where(i => i.Type is TemplateTypes.Zigbee2Mqtt or TemplateTypes.Frigate && i.State == InstanceStates.Active))
        {
            if (ScriptVersion(guest) >= BrokerFollowingScriptVersion)
            {
                logger.LogInformation("Instance {Instance} ({Hostname}) follows its broker to {Address} by itself", guest.Id, guest.Hostname, move.To);
                continue;
            }

            var (setting, value, file, service) = guest.Type == TemplateTypes.Zigbee2Mqtt
                ? ("mqtt.server", $"mqtt://{move.To}:1883", "/opt/zigbee2mqtt/data/configuration.yaml", "zigbee2mqtt")
                : ("mqtt.host", move.To, "/config/config.yml", "frigate");
            var warning = $"The site's MQTT broker (Home Assistant {instance.Hostname}) moved from {move.From} to {move.To}; {guest.Hostname} still uses the address it was given at its first boot (its first-boot script predates following the broker). On {guest.Hostname} set {setting} to {value} in {file} and restart {service}, or redeploy the instance; better, reserve Home Assistant's address in the router.";
            if (await transitions.RecordWarningAsync(guest.Id, "Running; its MQTT broker moved", warning, Source, ct))
            {
                logger.LogWarning("Instance {Instance} ({Hostname}): {Warning}", guest.Id, guest.Hostname, warning);
            }
        }
    }

    /// <summary>Home Assistant's URL follows its address once it answers there (the port is found again, as when it was located).</summary>
    private async Task FollowHomeAssistantUrlAsync(InstanceRow instance, string address, CancellationToken ct)
    {
        if (await sites.FindAsync(instance.Id, ct) is not { Url: { } url } || new Uri(url).Host.Trim('[', ']') == address)
        {
            return;
        }

        if (await homeAssistant.FindLivePortAsync(address, ct) is not { } port)
        {
            logger.LogInformation("Instance {Instance} ({Hostname}): Home Assistant does not answer at {Address} yet", instance.Id, instance.Hostname, address);
            return;
        }

        var moved = HomeAssistantClient.SiteUrl(address, port).ToString();
        await sites.SetUrlAsync(instance.Id, moved, ct);
        await transitions.SetAppUrlAsync(instance.Id, moved, ct);
        logger.LogInformation("Instance {Instance} ({Hostname}): Home Assistant answers at {Url}", instance.Id, instance.Hostname, moved);
    }

    /// <summary>The first-boot script version the guest reported at complete (0 when unknown).</summary>
    internal static int ScriptVersion(InstanceRow instance)
    {
        try
        {
            return instance.ReportedVersions()?.GetValueOrDefault("firstboot") is { } text
                && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : 0;
        }
        catch (JsonException)
        {
            return 0;
        }
    }

    public override void Dispose()
    {
        _round.Dispose();
        base.Dispose();
    }
}
