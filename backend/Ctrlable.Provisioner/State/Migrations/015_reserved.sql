-- 015: reserved for another part of issue #20 (upgrades/backups); this placeholder keeps the numbering gapless on the
-- alerts branch until that migration lands (the merge takes the real 015 in its place).
SELECT 1;
