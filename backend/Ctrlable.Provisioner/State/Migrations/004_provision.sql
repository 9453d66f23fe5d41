-- 004: the first-boot contract. A deployed guest fetches its assignment (wiring and per-instance secrets,
-- kept encrypted in secrets as instance/<id>/assignment) and reports back; the instance records each step.
-- Times are ISO-8601 text with offset (DateTimeOffset round-trip format, always UTC).

ALTER TABLE instances ADD COLUMN needs_binding INTEGER NOT NULL DEFAULT 0;   -- a USB coordinator: the host's LXC config needs a manual passthrough
ALTER TABLE instances ADD COLUMN firstboot_message TEXT;                     -- what the guest reported with complete (ok or failed)
ALTER TABLE instances ADD COLUMN installed_versions TEXT;                    -- JSON object app -> version, as the guest reported it
ALTER TABLE instances ADD COLUMN personalising_at TEXT;                      -- first successful assignment fetch
ALTER TABLE instances ADD COLUMN completed_at TEXT;                          -- complete received (active or failed)

-- Every state change of an instance, oldest first: the first-boot steps write here, and so may the pipelines.
CREATE TABLE instance_state_changes (
    id          INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    at          TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    message     TEXT,                                                        -- the guest's message or the reason; never a secret
    source      TEXT                                                         -- who moved it: the guest's address, "deploy", ...
);
CREATE INDEX ix_instance_state_changes_instance ON instance_state_changes (instance_id, id);
