-- 012: per-template activation (SPEC §8a). A build may be asked for some templates of a release only (rebuilding what
-- failed, the others untouched), and a HAOS template records where its image digest came from.

ALTER TABLE builds ADD COLUMN templates_json TEXT;      -- JSON array of the template names asked for; NULL = every template
ALTER TABLE templates ADD COLUMN haos_digest TEXT;      -- vm/haos-vm.sh only: 'manifest' (haos_sha256) or 'github' (read at build time)
