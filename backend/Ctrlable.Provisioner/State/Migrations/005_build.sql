-- 005: release builds through the restricted SSH host trigger (host/ctrlable-build).
-- A build row exists from "Build release" on; its ticket (SHA-256 only) lets the host wrapper fetch the plan
-- and the release's first-boot secret once each while the build runs, and is cleared when it ends.

ALTER TABLE builds ADD COLUMN host TEXT NOT NULL DEFAULT '';               -- the trigger target, user@host:port
ALTER TABLE builds ADD COLUMN requested_by TEXT;                           -- user or token name
ALTER TABLE builds ADD COLUMN forced INTEGER NOT NULL DEFAULT 0;           -- rebuild templates already built
ALTER TABLE builds ADD COLUMN community_scripts_ref TEXT;                  -- the manifest's tag or SHA
ALTER TABLE builds ADD COLUMN community_scripts_commit TEXT;               -- the commit the host fetched
ALTER TABLE builds ADD COLUMN ticket_hash TEXT;                            -- SHA-256 (hex) of the ticket; NULL once ended
ALTER TABLE builds ADD COLUMN ticket_expires_at TEXT;
ALTER TABLE builds ADD COLUMN plan_fetched_at TEXT;                        -- each ticket use happens once
ALTER TABLE builds ADD COLUMN secret_issued_at TEXT;
ALTER TABLE builds ADD COLUMN exit_code INTEGER;                           -- of ctrlable-build
ALTER TABLE builds ADD COLUMN progress_json TEXT NOT NULL DEFAULT '[]';    -- per template: state, step, error, version

CREATE UNIQUE INDEX ux_builds_ticket ON builds (ticket_hash) WHERE ticket_hash IS NOT NULL;
-- One build at a time per host (the wrapper's flock guards the host itself as well).
CREATE UNIQUE INDEX ux_builds_running ON builds (host) WHERE state = 'running';
CREATE INDEX ix_builds_started ON builds (started_at);
