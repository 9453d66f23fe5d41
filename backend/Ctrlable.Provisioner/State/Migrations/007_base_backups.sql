-- 007: a release's Home Assistant base backup, kept in the data directory (base-backups/<release>/<file>).
-- Its checksum is recorded here; its admin credentials live encrypted in secrets (HaBaseCredentials, release/<name>).

CREATE TABLE base_backups (
    release    TEXT PRIMARY KEY,          -- the release name (releases/<release>.yaml)
    file_name  TEXT NOT NULL,             -- the manifest's base_backup
    sha256     TEXT NOT NULL,             -- of the stored file, hex lower-case
    size_bytes INTEGER NOT NULL,
    stored_at  TEXT NOT NULL
);
