-- 003: the deploy pipeline. A deploy is one dealer action (a stack, or one added instance); each
-- instance records the step it reached and the Proxmox task it waits for, so a restarted orchestrator
-- resumes exactly there.

CREATE TABLE deploys (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    kind        TEXT NOT NULL CHECK (kind IN ('stack', 'instance')),
    release     TEXT NOT NULL,
    created_by  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX ix_deploys_project ON deploys (project_id);

ALTER TABLE instances ADD COLUMN deploy_id INTEGER REFERENCES deploys (id);
ALTER TABLE instances ADD COLUMN kind TEXT;                    -- lxc | vm (of the template)
ALTER TABLE instances ADD COLUMN template_vmid INTEGER;
ALTER TABLE instances ADD COLUMN upid TEXT;                    -- the Proxmox task the current step waits for
ALTER TABLE instances ADD COLUMN clone_mode TEXT;              -- linked | full
ALTER TABLE instances ADD COLUMN message TEXT;                 -- what is happening now, for the dealer
ALTER TABLE instances ADD COLUMN deadline_at TEXT;             -- when waiting for first boot gives up
