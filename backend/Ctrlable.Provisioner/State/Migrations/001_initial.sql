-- 001: the five tables of the spec (releases, templates, projects, instances, builds).
-- Times are ISO-8601 text with offset (DateTimeOffset round-trip format).

CREATE TABLE releases (
    name                     TEXT PRIMARY KEY,            -- "2026.06"
    community_scripts_ref    TEXT NOT NULL,               -- tag or SHA the build was asked for
    community_scripts_commit TEXT,                        -- SHA the build actually fetched
    is_active                INTEGER NOT NULL DEFAULT 0,  -- 1 for the one release deploys use
    activated_at             TEXT,
    created_at               TEXT NOT NULL
);
-- At most one active release: "latest validated" is whatever this host's templates were built from.
CREATE UNIQUE INDEX ux_releases_active ON releases (is_active) WHERE is_active = 1;

CREATE TABLE templates (
    id             INTEGER PRIMARY KEY,
    release        TEXT NOT NULL REFERENCES releases (name),
    name           TEXT NOT NULL,                          -- manifest template name, e.g. "zwavejs"
    kind           TEXT NOT NULL CHECK (kind IN ('lxc', 'vm')),
    vmid           INTEGER NOT NULL,
    node           TEXT NOT NULL,
    builder_ref    TEXT NOT NULL,                          -- community-scripts tag or SHA
    builder_commit TEXT,                                   -- resolved commit SHA
    app_version    TEXT,
    built_at       TEXT NOT NULL,
    UNIQUE (release, name)
);

CREATE TABLE projects (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    slug          TEXT NOT NULL UNIQUE,
    settings_json TEXT NOT NULL DEFAULT '{}',              -- site settings (coordinators, MQTT, network)
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE instances (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    type        TEXT NOT NULL,                             -- template name, e.g. "zigbee2mqtt"
    hostname    TEXT NOT NULL,
    vmid        INTEGER,
    node        TEXT,
    mac         TEXT,
    ip          TEXT,                                      -- last address the guest was seen with
    state       TEXT NOT NULL,                             -- pending, cloning, ..., active, failed, deleted
    release     TEXT REFERENCES releases (name),
    error       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
-- Deleted instances keep their history row, so uniqueness holds only among live ones.
CREATE UNIQUE INDEX ux_instances_hostname_live ON instances (hostname) WHERE state <> 'deleted';
CREATE UNIQUE INDEX ux_instances_vmid_live ON instances (vmid) WHERE state <> 'deleted' AND vmid IS NOT NULL;
CREATE INDEX ix_instances_project ON instances (project_id);

CREATE TABLE builds (
    id          INTEGER PRIMARY KEY,
    release     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT,
    log         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_builds_release ON builds (release);
