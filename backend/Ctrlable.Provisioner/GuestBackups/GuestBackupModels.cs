using Ctrlable.Provisioner.Projects;

namespace Ctrlable.Provisioner.GuestBackups;

/// <summary>A backup archive on the storage: its volume id, when it was made, its size and the first line of its notes.</summary>
public sealed record BackupArchiveView(string Volid, DateTimeOffset CreatedAt, long Size, string? Notes);

/// <summary>
/// One live guest of the project: its last backup of the orchestrator's (null: none), how many it keeps, whether one
/// is missing (the last is older than the schedule allows), and every one of them (newest first) for a restore.
/// </summary>
public sealed record GuestBackupView(long InstanceId, string Hostname, string Type, long Vmid, BackupArchiveView? LastBackup, int Count, bool Missing,
    IReadOnlyList<BackupArchiveView> Archives);

/// <summary>A backup run: scheduled (its slot) or asked for ("Back up now"), its state and what happened.</summary>
public sealed record BackupRunView(long Id, DateTimeOffset? Slot, string State, string Storage, int KeepLast, string? RequestedBy,
    DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, string? Message, string? Error)
{
    public static BackupRunView Of(BackupRunRow r) =>
        new(r.Id, r.Slot, r.State, r.Storage, (int)r.KeepLast, r.RequestedBy, r.StartedAt, r.FinishedAt, r.Message, r.Error);
}

/// <summary>A backup restored into a new guest (restoring/restored/failed); the original guest is left as it is.</summary>
public sealed record GuestRestoreView(long Id, long SourceInstanceId, string Volid, string Node, long? Vmid, string State, string? Error,
    string? RequestedBy, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt)
{
    public static GuestRestoreView Of(GuestRestoreRow r) =>
        new(r.Id, r.SourceInstanceId, r.Volid, r.Node, r.Vmid, r.State, r.Error, r.RequestedBy, r.CreatedAt, r.FinishedAt);
}

/// <summary>
/// A project's backups: its settings (null: none), the schedule in words and the next slot (one that has come while its
/// run has not started yet stays the next), the time zone its times of day are in (the orchestrator's, which install.sh
/// makes the host's), each guest's backups, the last runs and the restores. <see cref="Problem"/> says why the guests' backups could not be listed (Proxmox away).
/// </summary>
public sealed record ProjectBackups(BackupSettings? Settings, string? Schedule, DateTimeOffset? NextRunAt, string TimeZone, IReadOnlyList<GuestBackupView> Guests,
    IReadOnlyList<BackupRunView> Runs, IReadOnlyList<GuestRestoreView> Restores, string? Problem);

/// <summary>Restore <see cref="Volid"/> (one of the guest's backups) of instance <see cref="InstanceId"/> into a new guest.</summary>
public sealed record RestoreBackupRequest(long InstanceId, string Volid);
