-- 006 belongs to the platform enrolment work (another branch); this placeholder keeps the numbering without gaps
-- on this branch and is replaced by that migration when the branches meet.
SELECT 1;
