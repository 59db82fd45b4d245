-- Deletes the members of the groups that have expired (before the groups
-- themselves, prune_groups.sql). Parameter: now.
DELETE FROM stem_group_members WHERE group_id IN (SELECT id FROM stem_groups WHERE expires_at <= ?)
