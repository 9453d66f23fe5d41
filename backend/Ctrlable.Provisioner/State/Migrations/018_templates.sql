-- 018: removing old releases' templates (SPEC §8a "Removing old releases' templates"). A template is removed only
-- when the run that created it vouched for it: the build records that run's proof of ownership (the run id written
-- into the template's description marker, the random MAC address on its net0), and the removal checks both on the
-- template's current config before it asks Proxmox to destroy it. Templates recorded before this migration have no
-- proof and are never removed by the orchestrator.

ALTER TABLE templates ADD COLUMN build_id INTEGER;  -- the build whose run created the template (or last vouched for it)
ALTER TABLE templates ADD COLUMN run_id TEXT;       -- that run's random id (16 hex digits), as in the description marker
ALTER TABLE templates ADD COLUMN mac TEXT;          -- the MAC address the run gave net0 (upper case)

-- Set when the last recorded template of a non-active release was removed; cleared when the release is built again.
ALTER TABLE releases ADD COLUMN templates_removed_at TEXT;
ALTER TABLE releases ADD COLUMN templates_removed_by TEXT;
