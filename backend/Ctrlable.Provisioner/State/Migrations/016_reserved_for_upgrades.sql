-- 016 is the upgrades branch's (reserved). This placeholder only keeps migrations numbered without gaps on the
-- vzdump20 branch: delete it when the upgrades branch's 016 is merged.
SELECT 1;
