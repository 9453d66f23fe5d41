-- 016: upgrading a deployed instance to the active release (Upgrade/, SPEC §7g). One row per upgrade: the steps it went
-- through, the Proxmox snapshot it took (its name recorded before the snapshot is asked for, so a restart finds it and
-- never leaves one behind unrecorded), what the guest reported, and how it ended. The instance's own state (upgrading,
-- rolling-back) stays InstanceTransitions'. At most one open upgrade per instance.

CREATE TABLE instance_upgrades (
    id                   INTEGER PRIMARY KEY,
    instance_id          INTEGER NOT NULL REFERENCES instances (id),
    from_release         TEXT NOT NULL,
    to_release           TEXT NOT NULL,
    node                 TEXT NOT NULL,
    vmid                 INTEGER NOT NULL,
    kind                 TEXT NOT NULL,                 -- lxc | vm
    snapshot_name        TEXT NOT NULL,                 -- ctrlable-upgrade-<release>-u<id>, recorded before it is asked for
    step                 TEXT NOT NULL,                 -- snapshot | apply | health | record | rollback
    was_running          INTEGER,                       -- the guest's status before the snapshot (rollback starts it again)
    snapshot_taken_at    TEXT,                          -- the snapshot task ended OK (or the snapshot was found)
    applied_at           TEXT,                          -- the new versions are in place
    guest_status         TEXT,                          -- LXC: the guest's report (ok | failed)
    guest_message        TEXT,
    guest_versions       TEXT,                          -- JSON app -> version (Home Assistant: core, os)
    os_update_requested_at TEXT,                        -- Home Assistant: Supervisor asked for the OS update (then a reboot)
    core_update_job      TEXT,                          -- Home Assistant: Supervisor's job of the Core update (recorded once asked)
    rolled_back_at       TEXT,                          -- the rollback task ended OK
    reason               TEXT,                          -- why it failed (never a secret)
    outcome              TEXT,                          -- upgraded | rolled-back | failed (NULL while open)
    requested_by         TEXT,
    started_at           TEXT NOT NULL,
    finished_at          TEXT,
    snapshot_deleted_at  TEXT,                          -- the sweep deleted it (or found it gone)
    snapshot_kept_reason TEXT                           -- the sweep left it alone (not our guest any more), and why
);
CREATE UNIQUE INDEX ux_instance_upgrades_open ON instance_upgrades (instance_id) WHERE finished_at IS NULL;
CREATE INDEX ix_instance_upgrades_sweep ON instance_upgrades (snapshot_taken_at) WHERE snapshot_deleted_at IS NULL AND snapshot_kept_reason IS NULL;
