-- 009: Home Assistant on ctrlable-pro guests. The orchestrator drives each one from outside over Home Assistant's
-- own API after the VM starts (locate, wait for onboarding, restore the base backup, rotate credentials, wire the
-- project's services); every step records here what it did, so that a restarted orchestrator resumes it without
-- repeating what must not run twice (an upload, a restore). Credentials and tokens live in secrets, never here.

ALTER TABLE instances ADD COLUMN app_url TEXT;                -- where the dealer opens the guest's app (Home Assistant's URL)

CREATE TABLE homeassistant_sites (
    instance_id           INTEGER PRIMARY KEY REFERENCES instances (id),
    url                   TEXT,            -- http://<address>:<live port>/ as last located
    uuid_policy           TEXT,            -- regenerate | keep: the release's decision when the restore began
    core_uuid             TEXT,            -- the site's fresh core.uuid (regenerate), chosen before the upload
    backup_id             TEXT,            -- the uploaded copy's id in Home Assistant
    restore_requested_at  TEXT,            -- the restore was asked for: a resume waits for it instead of asking again
    restored_at           TEXT,
    admin_rotated_at      TEXT,            -- from then on the admin signs in with the per-site password
    orchestrator_user_id  TEXT,            -- the per-site user whose long-lived token the orchestrator keeps
    secured_at            TEXT,
    wired_at              TEXT,            -- first wiring done; later wiring (an added instance) keeps Home Assistant active on failure
    updated_at            TEXT NOT NULL
);

-- One row per service wired into a site's Home Assistant through a config flow (idempotent re-runs look here first).
CREATE TABLE homeassistant_wiring (
    instance_id         INTEGER NOT NULL REFERENCES instances (id),   -- the ctrlable-pro instance
    domain              TEXT NOT NULL,                                -- mqtt | zwave_js | frigate
    target              TEXT NOT NULL,                                -- the broker or URL wired
    entry_id            TEXT,                                         -- Home Assistant's config entry, when known
    source_instance_id  INTEGER REFERENCES instances (id),            -- the zwavejs/frigate instance wired; null for the broker
    wired_at            TEXT NOT NULL,
    PRIMARY KEY (instance_id, domain, target)
);
