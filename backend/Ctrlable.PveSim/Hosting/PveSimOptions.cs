using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Seeding;

namespace Ctrlable.PveSim.Hosting;

/// <summary>How to run an emulator. Defaults: PVE 9.1, one node "pve", real-time durations, loopback, free ports.</summary>
public sealed record PveSimOptions
{
    public PveVersion Version { get; init; } = PveVersion.V9_1;

    public IReadOnlyList<string> Nodes { get; init; } = ["pve"];

    public string ClusterName { get; init; } = "ctrlable-sim";

    /// <summary>Every listener binds here; keep it on loopback.</summary>
    public string ListenAddress { get; init; } = "127.0.0.1";

    /// <summary>Port of the first node; the next nodes get the following ports. 0 = free ports.</summary>
    public int Port { get; init; }

    /// <summary>Factor on every emulated duration (0.01 makes a 2 s clone take 20 ms).</summary>
    public double TimingScale { get; init; } = 1.0;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public SimTimings Timings { get; init; } = new();

    /// <summary>Error bodies carry "message" (pve-http-server ≥ 5.2.0). Null: as the emulated version does.</summary>
    public bool? ErrorMessageInBody { get; init; }

    /// <summary>Seed for clone durations and fault decisions; null = random.</summary>
    public int? RandomSeed { get; init; }

    /// <summary>Where started guests get their addresses; null = 127.0.10.0/24 from .10.</summary>
    public IGuestIpAllocator? IpAllocator { get; init; }

    public IGuestBootBehaviour BootBehaviour { get; init; } = new NoFirstBootBehaviour();

    /// <summary>
    /// How the Home Assistant emulator of a guest tagged <c>ctrlable-haos</c> runs (durations × <see cref="TimingScale"/>;
    /// its address is the guest's). Its <c>LegacyPort</c>/<c>HttpPort</c> (0 = free ports chosen at start) are shared by
    /// every such guest: see <see cref="PveSimulator.HomeAssistantPorts"/>. Null: no emulator in those guests.
    /// </summary>
    public Ctrlable.HaSim.HaSimOptions? HomeAssistant { get; init; } = new();

    /// <summary>
    /// The web apps of Ctrlable guests (a type among a guest's tags: zwavejs, zigbee2mqtt, docker-portainer, frigate,
    /// freepbx): type → the port standing in for the app's real one (8091, 8080, 9443, 5000, 80), on each guest's own
    /// address; a type left out or 0 gets a free port chosen at start (<see cref="PveSimulator.AppPorts"/>). Null: no app
    /// listeners. Tests stop and start an app with <see cref="PveSimulator.StopAppAsync"/> / <see cref="PveSimulator.StartApp"/>.
    /// </summary>
    public IReadOnlyDictionary<string, int>? AppPorts { get; init; } = new Dictionary<string, int>();

    /// <summary>Create <c>local</c> (dir) and <c>local-lvm</c> (lvmthin) before seeding.</summary>
    public bool DefaultStorages { get; init; } = true;

    public SeedSpec? Seed { get; init; }

    /// <summary>State file: loaded at start when it exists, written while running and at shutdown.</summary>
    public string? SnapshotPath { get; init; }

    /// <summary>
    /// Where each Home Assistant guest keeps its /config (<c>&lt;dir&gt;/&lt;vmid&gt;</c>, its disk), so that with
    /// <see cref="SnapshotPath"/> a restarted emulator's Home Assistants are as they were. Null: memory only.
    /// </summary>
    public string? HomeAssistantDisks { get; init; }

    /// <summary>Serve /_sim/faults and /_sim/tasks (loopback, no auth). Faults themselves start off either way.</summary>
    public bool AdminEndpoints { get; init; } = true;

    /// <summary>Log requests to the console (standalone server).</summary>
    public bool ConsoleLogging { get; init; }
}
