namespace Ctrlable.Provisioner.State;

/// <summary>
/// The life of an instance, as stored in instances.state. Deploy moves it up to <see cref="Waiting"/>; the guest's
/// first boot moves it on (provision endpoints); lifecycle and delete move it from there. A ctrlable-pro VM goes from
/// <see cref="Starting"/> through the Home Assistant steps (<see cref="Locating"/> … <see cref="Wiring"/>) instead.
/// </summary>
public static class InstanceStates
{
    public const string Pending = "pending";            // recorded, nothing done in Proxmox yet
    public const string Cloning = "cloning";            // clone task started (UPID recorded)
    public const string Configuring = "configuring";    // MAC, hostname, tags being set
    public const string Starting = "starting";          // start task running
    public const string Waiting = "waiting";            // running, waiting for the first-boot assignment call
    public const string Personalising = "personalising"; // the guest fetched its assignment and is applying it
    // ctrlable-pro (Home Assistant OS, no first-boot script): the orchestrator drives Home Assistant from outside.
    public const string Locating = "locating";          // finding the VM's address (guest agent) and Home Assistant's live port
    public const string Preparing = "preparing";        // landing page ("Preparing Home Assistant") until onboarding answers
    public const string Restoring = "restoring";        // uploading and restoring the release's base backup
    public const string Securing = "securing";          // signing in with the base credentials, rotating them per site
    public const string Wiring = "wiring";              // config flows: MQTT, Z-Wave JS, Frigate of the project
    public const string Active = "active";
    public const string Failed = "failed";
    public const string Deleting = "deleting";
    public const string Deleted = "deleted";             // history row; the guest is gone
    // An active instance moving to the active release (Upgrade/, SPEC §7g): snapshot, new versions, health, record.
    public const string Upgrading = "upgrading";
    public const string RollingBack = "rolling-back";   // the upgrade failed: back to its snapshot, then active on the old release

    /// <summary>The states of an upgrade: the pipeline hands them to the upgrade's steps.</summary>
    public static bool IsUpgrade(string state) => state is Upgrading or RollingBack;
}
