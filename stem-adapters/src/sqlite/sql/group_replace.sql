-- Replaces the status of a member added before (a redelivered member that ran
-- again), which is not counted again. Parameters: status (JSON), group id,
-- member index.
UPDATE stem_group_members SET status = ? WHERE group_id = ? AND member_index = ?
