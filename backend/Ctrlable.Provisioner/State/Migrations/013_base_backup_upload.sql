-- 013: a base backup uploaded through the API or --import-base-backup (SPEC §7d) records what its check found, so the
-- Releases page can show it without opening the archive or the encrypted credentials again.

ALTER TABLE base_backups ADD COLUMN admin_username TEXT;               -- the owner the restore brings back (the deploy signs in as it)
ALTER TABLE base_backups ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0; -- 1: a protected (SecureTar) backup; its key is in the credentials
ALTER TABLE base_backups ADD COLUMN home_assistant_version TEXT;       -- backup.json homeassistant.version
ALTER TABLE base_backups ADD COLUMN stored_by TEXT;                    -- the admin who uploaded it, 'command line', or 'demo'
