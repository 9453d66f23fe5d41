-- 019: automatic removal of old releases' templates (SPEC §8a "Removing old releases' templates"). When a release
-- stopped being the active one: Releases:RemoveTemplatesAfterDays counts from here. Set when another release is
-- activated, cleared when this one is activated again; a release that was not active before this migration gets it
-- when the orchestrator first sees it so (never in the past: its templates get the full grace period).

ALTER TABLE releases ADD COLUMN superseded_at TEXT;
