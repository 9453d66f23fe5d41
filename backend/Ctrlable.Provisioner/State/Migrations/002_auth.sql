-- 002: access control — dealer accounts, integrator API tokens, the audit log and secrets at rest.
-- Times are ISO-8601 text with offset (DateTimeOffset round-trip format, always UTC).

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL COLLATE NOCASE UNIQUE,    -- lower-case sign-in name
    password_hash   TEXT NOT NULL,                          -- ASP.NET Core Identity PasswordHasher (PBKDF2)
    role            TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled        INTEGER NOT NULL DEFAULT 0,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,             -- consecutive failures since the last success
    locked_until    TEXT,                                   -- set when failed_sign_ins reached the threshold
    security_stamp  TEXT NOT NULL,                          -- new on password/role/disable change: ends other sessions
    last_sign_in_at TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,                             -- what the integrator uses it for
    prefix       TEXT NOT NULL,                             -- first characters of the token, to tell tokens apart
    token_hash   TEXT NOT NULL UNIQUE,                      -- SHA-256 (hex) of the token; the token itself is never stored
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,                                      -- NULL = does not expire
    revoked_at   TEXT,
    last_used_at TEXT
);

-- Every state-changing request: who, what, on what, with which result. Never a request body.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('user', 'token', 'anonymous')),
    actor_name  TEXT,
    method      TEXT NOT NULL,
    route       TEXT NOT NULL,                              -- route pattern, e.g. /api/tokens/{id}
    target      TEXT,                                       -- route values and what the handler named
    status_code INTEGER NOT NULL,
    remote_ip   TEXT
);
CREATE INDEX ix_audit_log_at ON audit_log (at);

-- Secrets encrypted with ASP.NET Core Data Protection (key ring in <data>/keys), one purpose per kind.
CREATE TABLE secrets (
    kind            TEXT NOT NULL,                          -- e.g. proxmox-token-secret, instance-app-secret
    name            TEXT NOT NULL,                          -- e.g. "default", "instance/42/mqtt-password"
    protected_value TEXT NOT NULL,                          -- Data Protection ciphertext
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
