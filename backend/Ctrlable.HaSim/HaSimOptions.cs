namespace Ctrlable.HaSim;

/// <summary>
/// Which port Home Assistant Core serves once it runs (see haos.md §0): before Core 2026.8 on HAOS it listens on
/// 8123 only; from 2026.8 it listens on 80 and answers 8123 with a redirect to 80. The landing page listens on 8123
/// and redirects 80 to 8123 in both.
/// </summary>
public enum HaPortLayout
{
    /// <summary>Core on 8123, nothing on 80 once the landing page is gone.</summary>
    Core8123,

    /// <summary>Core on 80, 8123 answers 302 to 80 (Core 2026.8+ under Supervisor).</summary>
    Core80,
}

/// <summary>The MQTT connection a config flow tests before it creates the entry.</summary>
public sealed record MqttConnectAttempt(string Broker, int Port, string? Username, string? Password);

/// <summary>What the Z-Wave JS server answers on connect: the home id becomes the entry's unique id.</summary>
public sealed record ZwaveJsServerInfo(long HomeId, string ServerVersion = "1.40.2", string DriverVersion = "14.3.7");

/// <summary>How to run a Home Assistant emulator. Defaults: loopback, free ports, short phases suitable for tests.</summary>
public sealed record HaSimOptions
{
    /// <summary>
    /// The "guest" address both ports bind on (a 127.x address in tests and the Proxmox emulator): its DHCP lease. A static
    /// address set through Supervisor's network API replaces it until set back to auto.
    /// </summary>
    public string Address { get; init; } = "127.0.0.1";

    /// <summary>The port standing in for 8123 (0 = a free port, chosen once and kept across restarts).</summary>
    public int LegacyPort { get; init; }

    /// <summary>The port standing in for 80 (0 = a free port, chosen once and kept across restarts).</summary>
    public int HttpPort { get; init; }

    public HaPortLayout Layout { get; init; } = HaPortLayout.Core8123;

    /// <summary>Core's version as the WebSocket API and backups report it.</summary>
    public string HomeAssistantVersion { get; init; } = "2025.4.4";

    /// <summary>Home Assistant OS's version (Supervisor's /os/info), until an OS update is booted into.</summary>
    public string OsVersion { get; init; } = "15.1";

    /// <summary>Supervisor's Core image pull (/core/update) or OS bundle install (/os/update) takes this long.</summary>
    public TimeSpan UpdateDuration { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Older Core (2021.4 – 2025.x) has the analytics onboarding step; the newest has not (haos.md §0).</summary>
    public bool AnalyticsStep { get; init; } = true;

    /// <summary>First boot: "Preparing Home Assistant" (the landing page) while Core downloads. Zero skips it.</summary>
    public TimeSpan LandingDuration { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// After a restore Core is down (connections refused) this long, then the landing page shows for
    /// <see cref="LandingAfterRestore"/> (as while Supervisor updates Core to the backup's version), then Core is back.
    /// </summary>
    public TimeSpan RestoreDownTime { get; init; } = TimeSpan.FromMilliseconds(300);

    public TimeSpan LandingAfterRestore { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long after accepting a restore Core stops (the restore POST usually gets its 200 first).</summary>
    public TimeSpan RestoreStopDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A plain restart (fault knob, <c>homeassistant/restart</c>): down this long.</summary>
    public TimeSpan RestartDownTime { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>After Core starts, the backup integration loads this much later (404 on the backup views until then).</summary>
    public TimeSpan BackupLoadDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Access tokens from /auth/token live this long (HA: 30 minutes, <c>expires_in: 1800</c>).</summary>
    public TimeSpan AccessTokenLifetime { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Authorization codes are single-use and expire after 10 minutes.</summary>
    public TimeSpan AuthCodeLifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>bcrypt cost for new password hashes (HA uses 12; lower keeps tests fast).</summary>
    public int BcryptWorkFactor { get; init; } = 5;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The MQTT config flow's connection test. Default: every broker answers.</summary>
    public Func<MqttConnectAttempt, CancellationToken, Task<bool>> MqttCheck { get; init; } = (_, _) => Task.FromResult(true);

    /// <summary>
    /// The Z-Wave JS config flow's connection: the server's info, or null when it cannot connect.
    /// Default: every ws:// URL answers with a home id derived from the URL (one server per URL).
    /// </summary>
    public Func<Uri, CancellationToken, Task<ZwaveJsServerInfo?>> ZwaveJsCheck { get; init; } =
        (url, _) => Task.FromResult<ZwaveJsServerInfo?>(new ZwaveJsServerInfo(StableHomeId(url)));

    /// <summary>The Frigate config flow's <c>/api/stats</c> check. Default: every URL answers.</summary>
    public Func<Uri, CancellationToken, Task<bool>> FrigateCheck { get; init; } = (_, _) => Task.FromResult(true);

    /// <summary>A network change through Supervisor takes effect this long after its answer (NetworkManager activating it).</summary>
    public TimeSpan NetworkChangeDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Called (outside the emulator's locks) once Home Assistant listens on a new address: a static address set through
    /// Supervisor, or back on <see cref="Address"/> (the DHCP lease) — the Proxmox emulator's guest agent reports it.
    /// </summary>
    public Action<System.Net.IPAddress>? AddressChanged { get; init; }

    /// <summary>A backup to install before the first boot (as if the instance had been set up already); null = a fresh install.</summary>
    public byte[]? PreinstalledBackup { get; init; }

    /// <summary>
    /// Where /config is kept between runs (the VM's disk): loaded at start when it holds one (Core is then installed, so
    /// no landing page), written when the VM powers off, when the emulator is disposed and every couple of seconds
    /// while it changes. Null: memory only.
    /// </summary>
    public string? DiskDirectory { get; init; }

    internal static long StableHomeId(Uri url)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(url.ToString()));
        return BitConverter.ToUInt32(hash, 0);
    }
}
