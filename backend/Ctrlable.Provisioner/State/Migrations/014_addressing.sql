-- 014: static addressing (a site's static plan, Projects/SiteSettings.cs). The address the orchestrator gave an
-- instance is recorded before it is written into the guest, so a restart writes the same one; it is unique among live
-- instances of every project (the index settles races between pipelines, as for VMIDs). instances.ip stays what it
-- was: the last address the guest was seen with. The Home Assistant flow records the host name and network settings
-- it set through Supervisor, so a resumed flow neither repeats nor loses them.

ALTER TABLE instances ADD COLUMN static_ip TEXT;
CREATE UNIQUE INDEX ux_instances_static_ip_live ON instances (static_ip) WHERE state <> 'deleted' AND static_ip IS NOT NULL;

ALTER TABLE homeassistant_sites ADD COLUMN hostname_set_at TEXT;         -- Supervisor's host name is the instance's
ALTER TABLE homeassistant_sites ADD COLUMN network_address TEXT;         -- the static address asked of Supervisor (recorded before asking)
ALTER TABLE homeassistant_sites ADD COLUMN network_set_at TEXT;          -- Home Assistant answers there with those settings
