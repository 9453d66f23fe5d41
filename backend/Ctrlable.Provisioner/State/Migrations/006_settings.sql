-- 006: the Proxmox connection an admin saved in Settings (overrides the Proxmox:* configuration).
-- The token secret is not here: it is in secrets (kind ProxmoxTokenSecret), encrypted.

CREATE TABLE proxmox_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),   -- one row: this orchestrator's host
    url TEXT NOT NULL,
    token_id TEXT NOT NULL,
    certificate_fingerprint TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL                 -- user or API token name
);
