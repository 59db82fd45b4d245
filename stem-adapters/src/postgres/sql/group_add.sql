-- Adds members' final statuses to their live groups and counts the new ones,
-- in one statement. $1 group ids, $2 member indexes, $3 statuses (JSON): one
-- per member, no (group, index) twice.
--
-- The live groups are locked first, in id order (so that two batches over
-- the same groups wait for each other rather than deadlock), and a member is
-- inserted only once its group is locked: the adds to one group run one after
-- another. An index already in the group replaces its status and is not
-- counted (`xmax = 0` only for a row this statement inserted). Each group's
-- `done` then grows by its new members; the caller spreads the counts over
-- the members. Members of unknown or expired groups return no row.
WITH live AS (
    SELECT id FROM {schema}.groups
    WHERE id = ANY($1::uuid[]) AND expires_at > now()
    ORDER BY id
    FOR UPDATE
),
added AS (
    INSERT INTO {schema}.group_members AS m (group_id, member_index, status)
    SELECT a.group_id, a.member_index, a.status
    FROM unnest($1::uuid[], $2::bigint[], $3::text[]) AS a (group_id, member_index, status)
    JOIN live ON live.id = a.group_id
    ON CONFLICT (group_id, member_index) DO UPDATE SET status = EXCLUDED.status
    RETURNING m.group_id, m.member_index, m.xmax = 0 AS inserted
),
counted AS (
    UPDATE {schema}.groups AS g SET done = g.done + n.new
    FROM (SELECT group_id, count(*) FILTER (WHERE inserted) AS new FROM added GROUP BY group_id) AS n
    WHERE g.id = n.group_id
    RETURNING g.id, g.expected, g.done
)
SELECT a.group_id, a.member_index, a.inserted, c.expected, c.done
FROM added AS a JOIN counted AS c ON c.id = a.group_id
