-- Adds (or updates) a member's final status. $1 group, $2 member, $3 status (JSON).
INSERT INTO {schema}.group_members (group_id, member_id, status) VALUES ($1, $2, $3)
ON CONFLICT (group_id, member_id) DO UPDATE SET status = EXCLUDED.status
