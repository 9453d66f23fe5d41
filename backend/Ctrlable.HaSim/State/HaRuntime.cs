using System.Text.Json.Nodes;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.Flows;

namespace Ctrlable.HaSim.State;

/// <summary>What the emulated machine is doing.</summary>
public enum HaPhase
{
    /// <summary>Nothing listens (booting, Core stopped for a restore or restart, VM stopped).</summary>
    Down,

    /// <summary>The landing page ("Preparing Home Assistant"): 401 text/plain on /api/*.</summary>
    Landing,

    /// <summary>Home Assistant Core answers.</summary>
    Running,
}

/// <summary>An uploaded backup as Supervisor keeps it (it survives Core restarts).</summary>
internal sealed record StoredBackup(string Slug, JsonObject Metadata, byte[] Tar, DateTimeOffset UploadedAt);

internal sealed record AuthCode(string ClientId, string UserId, string? CredentialId, DateTimeOffset Expires);

internal sealed record LoginFlow(string FlowId, string ClientId, string RedirectUri, string? RemoteIp);

/// <summary>Core's and Home Assistant OS's versions; <see cref="OsPending"/> is installed and active after the next reboot.</summary>
public sealed record HaVersions(string Core, string Os, string? OsPending);

/// <summary>A Supervisor job (jobs/__init__.py SupervisorJob.as_dict): done, and its errors' messages.</summary>
internal sealed class HaJob(string uuid, string name, string? reference)
{
    public string Uuid { get; } = uuid;

    public string Name { get; } = name;

    public string? Reference { get; } = reference;

    public bool Done { get; set; }

    public List<string> Errors { get; } = [];

    public DateTimeOffset Created { get; init; }
}

/// <summary>
/// The emulator's mutable state; every field is read and changed under <see cref="Sync"/>. <see cref="Config"/> is
/// what /config holds (persists over restarts); the rest is Core's memory (lost on restart) or Supervisor's.
/// </summary>
internal sealed class HaRuntime(HaSimOptions options)
{
    public Lock Sync { get; } = new();

    public HaSimOptions Options { get; } = options;

    public DateTimeOffset Now => Options.TimeProvider.GetUtcNow();

    public HaConfig Config { get; set; } = new();

    public HaPhase Phase { get; set; } = HaPhase.Down;

    public int Boots { get; set; }

    /// <summary>The address the LAN's DHCP server leases the VM (<see cref="HaSimOptions.Address"/> until it hands out another).</summary>
    public System.Net.IPAddress DhcpAddress { get; set; } = System.Net.IPAddress.Parse(options.Address);

    // ---- Core memory: reset on every Core start ----

    /// <summary>Whether onboarding's views were registered at this Core start (not when every step was done then).</summary>
    public bool OnboardingViews { get; set; }

    public bool BackupLoaded { get; set; }

    public Dictionary<string, AuthCode> AuthCodes { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, LoginFlow> LoginFlows { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, ConfigFlow> ConfigFlows { get; } = new(StringComparer.Ordinal);

    public string ManagerState { get; set; } = "idle";

    public JsonObject? LastActionEvent { get; set; }

    // ---- Supervisor: survives Core restarts ----

    public Dictionary<string, StoredBackup> Backups { get; } = new(StringComparer.Ordinal);

    public string? RestoredBackupId { get; set; }

    /// <summary>Set by a restore that Supervisor will fail after stopping Core (fault knob).</summary>
    public string? FailNextRestore { get; set; }

    /// <summary>How long the next restore keeps the landing page up before Core returns (fault knob; null: the options' time).</summary>
    public TimeSpan? NextRestoreLanding { get; set; }

    /// <summary>Handlers whose config flows never finish: a submitted form comes back as the same form (fault knob).</summary>
    public HashSet<string> EndlessFlows { get; } = new(StringComparer.Ordinal);

    /// <summary>Sign-ins refused with <c>invalid_auth</c> (Home Assistant counts them towards an IP ban).</summary>
    public int FailedLogins { get; set; }

    /// <summary>The result of the last restore, reported through last_action_event after the restart.</summary>
    public JsonObject? PendingRestoreEvent { get; set; }

    /// <summary>Core's and the OS's versions (the data partition's; an OS update waits as pending until the reboot).</summary>
    public HaVersions Versions { get; set; } = new(options.HomeAssistantVersion, options.OsVersion, null);

    /// <summary>Supervisor's jobs by uuid (a Core update started with background: true).</summary>
    public Dictionary<string, HaJob> Jobs { get; } = new(StringComparer.Ordinal);

    /// <summary>The next Core update fails with this message (fault knob).</summary>
    public string? FailNextCoreUpdate { get; set; }

    /// <summary>The next OS update fails with this message (fault knob).</summary>
    public string? FailNextOsUpdate { get; set; }

    /// <summary>Host name and network settings (the host's, not /config's): kept over restarts, restores and power cycles.</summary>
    public HaHostSettings Host { get; set; } = new();

    public IReadOnlyList<string> Steps => Options.AnalyticsStep ? HaConfig.AllSteps : ["user", "core_config", "integration"];

    public bool AllStepsDone => Steps.All(Config.OnboardingDone.Contains);

    public bool UserOnboarded => Config.OnboardingDone.Contains("user");

    /// <summary>Core's memory is gone on a restart; /config and Supervisor's backups stay.</summary>
    public void CoreStarted()
    {
        Boots++;
        AuthCodes.Clear();
        LoginFlows.Clear();
        ConfigFlows.Clear();
        OnboardingViews = !AllStepsDone;
        BackupLoaded = false;
        ManagerState = "idle";
        LastActionEvent = PendingRestoreEvent;
        PendingRestoreEvent = null;
        if (Config.CoreUuid is null)
        {
            // helpers/instance_id.py: created on start when missing.
            Config.CoreUuid = HaConfig.NewId();
        }

        Config.AddSystemUsers(Now);
    }

    public void Restore(HaBackup backup)
    {
        Config = HaConfig.FromFiles(backup.ConfigFiles);
        RestoredBackupId = backup.Slug;
    }
}
