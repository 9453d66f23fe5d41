-- 017: per-project guest backups through Proxmox vzdump (GuestBackups/, SPEC §8h).
-- Times are ISO-8601 text with offset (DateTimeOffset round-trip format, always UTC).

-- What the scheduler knows of a project's schedule: the schedule as it last saw it (a change restarts `since`, so a
-- schedule saved today never runs a slot that passed before it was saved), and the project's backup marker: vzdump
-- writes it into each archive's notes, and retention removes only archives that carry it.
CREATE TABLE backup_schedules (
    project_id INTEGER PRIMARY KEY REFERENCES projects(id),
    schedule   TEXT NOT NULL,
    since      TEXT NOT NULL,
    nonce      TEXT NOT NULL
);

-- One row per backup run of a project, recorded before anything is asked of Proxmox (crash-safe: a scheduled slot has
-- at most one run, by the unique index; a run found `running` after a restart is finished from its recorded tasks and
-- never started again). tasks_json: [{node, vmids, upid}] — an entry is written before its vzdump is requested and its
-- UPID as soon as Proxmox answers.
CREATE TABLE backup_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects(id),
    slot         TEXT,                                -- the schedule's slot; NULL for "Back up now"
    state        TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    storage      TEXT NOT NULL,
    keep_last    INTEGER NOT NULL,
    tasks_json   TEXT NOT NULL DEFAULT '[]',
    requested_by TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    message      TEXT,
    error        TEXT
);
CREATE UNIQUE INDEX backup_runs_slot ON backup_runs (project_id, slot) WHERE slot IS NOT NULL;
CREATE UNIQUE INDEX backup_runs_one_running ON backup_runs (project_id) WHERE state = 'running';

-- A backup restored into a new guest (never over the running one). The VMID is reserved here (the deploy pipeline's
-- allocator looks at these too) before Proxmox is asked; the new guest gets the marker "restore #<id> ... [<nonce>]".
CREATE TABLE guest_restores (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id         INTEGER NOT NULL REFERENCES projects(id),
    source_instance_id INTEGER NOT NULL REFERENCES instances(id),
    volid              TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('lxc', 'qemu')),
    node               TEXT NOT NULL,
    vmid               INTEGER UNIQUE,
    owner_nonce        TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('restoring', 'restored', 'failed')),
    upid               TEXT,
    error              TEXT,
    requested_by       TEXT,
    created_at         TEXT NOT NULL,
    finished_at        TEXT
);
