-- 008: report-up to the central platform (Platform/). The site's enrolment and delivery state, and a
-- transactional outbox: triggers record every reportable change in the same transaction as the change itself,
-- whichever code path makes it, so a crash between commit and delivery cannot lose a report.
-- Times are ISO-8601 text with offset (DateTimeOffset round-trip format, always UTC).

CREATE TABLE platform_site (
    id               INTEGER PRIMARY KEY CHECK (id = 1),      -- one row
    site_id          TEXT,                                    -- NULL = not enrolled
    enrolled_at      TEXT,
    platform_url     TEXT,                                    -- the URL enrolled at (shown in the SPA)
    last_sequence    INTEGER NOT NULL DEFAULT 0,              -- last sequence number used; only ever increases
    last_success_at  TEXT,                                    -- last report the platform accepted
    last_attempt_at  TEXT,
    last_error       TEXT,                                    -- why the last attempt failed (never a secret); NULL after a success
    last_error_at    TEXT,
    failures         INTEGER NOT NULL DEFAULT 0,              -- consecutive failed attempts (drives the back-off)
    next_attempt_at  TEXT,                                    -- back-off: no attempt before this
    token_rejected   INTEGER NOT NULL DEFAULT 0               -- the platform answered 401/403: stop until re-enrolled
);
INSERT INTO platform_site (id) VALUES (1);

-- One row per reportable change while enrolled; a delivered snapshot deletes the rows it covered.
-- AUTOINCREMENT: ids are never reused, so "delivered up to id N" stays exact.
CREATE TABLE platform_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT,                                         -- when the change happened (the row's own time)
    reason      TEXT NOT NULL,                                -- instance | instance-deleted | release | enrolment
    instance_id INTEGER
);

-- When an instance's reported fields last changed (state, hostname, VMID, node, release, type).
ALTER TABLE instances ADD COLUMN changed_at TEXT;
UPDATE instances SET changed_at = updated_at;

CREATE TRIGGER instances_changed_at_insert AFTER INSERT ON instances
BEGIN
    UPDATE instances SET changed_at = NEW.updated_at WHERE id = NEW.id;
END;

CREATE TRIGGER instances_changed_at_update AFTER UPDATE OF state, hostname, vmid, node, release, type ON instances
WHEN OLD.state IS NOT NEW.state OR OLD.hostname IS NOT NEW.hostname OR OLD.vmid IS NOT NEW.vmid
  OR OLD.node IS NOT NEW.node OR OLD.release IS NOT NEW.release OR OLD.type IS NOT NEW.type
BEGIN
    UPDATE instances SET changed_at = NEW.updated_at WHERE id = NEW.id;
END;

CREATE TRIGGER platform_outbox_instance_insert AFTER INSERT ON instances
WHEN (SELECT site_id FROM platform_site WHERE id = 1) IS NOT NULL
BEGIN
    INSERT INTO platform_outbox (at, reason, instance_id) VALUES (NEW.updated_at, 'instance', NEW.id);
END;

CREATE TRIGGER platform_outbox_instance_update AFTER UPDATE OF state, hostname, vmid, node, release, type ON instances
WHEN (OLD.state IS NOT NEW.state OR OLD.hostname IS NOT NEW.hostname OR OLD.vmid IS NOT NEW.vmid
  OR OLD.node IS NOT NEW.node OR OLD.release IS NOT NEW.release OR OLD.type IS NOT NEW.type)
  AND (SELECT site_id FROM platform_site WHERE id = 1) IS NOT NULL
BEGIN
    INSERT INTO platform_outbox (at, reason, instance_id) VALUES (NEW.updated_at, 'instance', NEW.id);
END;

CREATE TRIGGER platform_outbox_instance_delete AFTER DELETE ON instances
WHEN (SELECT site_id FROM platform_site WHERE id = 1) IS NOT NULL
BEGIN
    INSERT INTO platform_outbox (at, reason, instance_id) VALUES (OLD.updated_at, 'instance-deleted', OLD.id);
END;

-- Release activation (ActivateAsync always stamps activated_at, also when re-activating with rebuilt templates).
CREATE TRIGGER platform_outbox_release AFTER UPDATE OF is_active, activated_at ON releases
WHEN NEW.is_active = 1 AND (SELECT site_id FROM platform_site WHERE id = 1) IS NOT NULL
BEGIN
    INSERT INTO platform_outbox (at, reason, instance_id) VALUES (NEW.activated_at, 'release', NULL);
END;
