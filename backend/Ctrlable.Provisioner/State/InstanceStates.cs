namespace Ctrlable.Provisioner.State;

/// <summary>
/// The life of an instance, as stored in instances.state. Deploy moves it up to <see cref="Waiting"/>; the guest's
/// first boot moves it on (provision endpoints); lifecycle and delete move it from there.
/// </summary>
public static class InstanceStates
{
    public const string Pending = "pending";            // recorded, nothing done in Proxmox yet
    public const string Cloning = "cloning";            // clone task started (UPID recorded)
    public const string Configuring = "configuring";    // MAC, hostname, tags being set
    public const string Starting = "starting";          // start task running
    public const string Waiting = "waiting";            // running, waiting for the first-boot assignment call
    public const string Personalising = "personalising"; // the guest fetched its assignment and is applying it
    public const string Active = "active";
    public const string Failed = "failed";
    public const string Deleting = "deleting";
    public const string Deleted = "deleted";             // history row; the guest is gone
}
