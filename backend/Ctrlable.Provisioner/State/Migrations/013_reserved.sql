-- 013: reserved for another part of issue #17, developed on another branch (migrations are numbered without gaps).
-- This placeholder changes nothing; the merge replaces it with that branch's 013 file.
SELECT 1;
