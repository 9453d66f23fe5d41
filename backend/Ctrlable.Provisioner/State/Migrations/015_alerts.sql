-- 015: alerts (Alerts/, SPEC §8g). Notification targets, incidents (one per kind + subject while open) and a
-- transactional outbox of the notifications each target is owed, written in the transaction that opens or resolves
-- the incident, so a crash between the event and its delivery loses nothing.
-- Times are ISO-8601 text with offset (DateTimeOffset round-trip format, always UTC).

-- Where notifications go. settings_json holds only what is not secret (URL, server, topic, host, addresses);
-- the secrets (webhook signing secret and header value, ntfy token, SMTP password) are in `secrets`
-- (kind AlertTargetSecret, name 'alert-target/<id>/<field>'), encrypted with Data Protection.
CREATE TABLE alert_targets (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL COLLATE NOCASE UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('webhook', 'ntfy', 'smtp')),
    enabled       INTEGER NOT NULL DEFAULT 1,
    settings_json TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- One row per incident: opened by an event, resolved when its condition clears. key = kind ':' subject; at most
-- one open incident per key (further events of it are deduplicated).
CREATE TABLE alert_incidents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    key           TEXT NOT NULL,
    kind          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    severity      TEXT NOT NULL,
    title         TEXT NOT NULL,
    detail        TEXT NOT NULL,                      -- never a secret
    project_id    INTEGER,
    project_name  TEXT,
    instance_id   INTEGER,
    instance_name TEXT,
    link_path     TEXT,                               -- the SPA page about it, e.g. /projects/3
    opened_at     TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,                      -- the latest event of it (deduplicated ones included)
    events        INTEGER NOT NULL DEFAULT 1,
    notified_at   TEXT,                               -- its "open" notification first delivered
    resolved_at   TEXT,
    resolved_detail TEXT,
    resolved_notified_at TEXT
);
CREATE UNIQUE INDEX alert_incidents_open_key ON alert_incidents (key) WHERE resolved_at IS NULL;

-- Each message a target accepted (one notification, or one summary of several): the per-target rate limit counts these.
CREATE TABLE alert_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    target_id     INTEGER NOT NULL REFERENCES alert_targets (id) ON DELETE CASCADE,
    sent_at       TEXT NOT NULL,
    notifications INTEGER NOT NULL,
    answer        TEXT NOT NULL                       -- what the target answered (HTTP status, SMTP reply)
);
CREATE INDEX alert_deliveries_target ON alert_deliveries (target_id, sent_at);

-- Notifications owed: one per incident, state (open/resolved) and target. sent_at NULL = still owed; a delivery that
-- fails waits until next_attempt_at (exponential back-off); given_up_at ends it after Alerts:MaxAttempts.
CREATE TABLE alert_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     INTEGER NOT NULL REFERENCES alert_incidents (id) ON DELETE CASCADE,
    target_id       INTEGER NOT NULL REFERENCES alert_targets (id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    sent_at         TEXT,
    given_up_at     TEXT,
    delivery_id     INTEGER REFERENCES alert_deliveries (id) ON DELETE SET NULL,
    UNIQUE (incident_id, target_id, state)
);
CREATE INDEX alert_outbox_owed ON alert_outbox (target_id, next_attempt_at) WHERE sent_at IS NULL AND given_up_at IS NULL;

-- A stop or shutdown an operator asked of an instance's guest through the orchestrator: such a stopped guest is
-- expected, not "stopped unexpectedly". A start or reboot through the orchestrator, or the guest seen running, clears it.
CREATE TABLE guest_stop_requests (
    instance_id  INTEGER PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,
    requested_at TEXT NOT NULL,
    requested_by TEXT
);
