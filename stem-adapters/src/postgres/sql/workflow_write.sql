-- The fenced writes of many executions at once (group commit): each input row
-- is a checkpoint (kind 'c', as workflow_save.sql) or an owned finish (kind
-- 'f', as workflow_finish.sql with an owner) of a run that is running and held
-- by that row's owner; the held runs are locked in id order first. A finish
-- may come with checkpoints of its run (rows before it): they are inserted,
-- and the run row is updated once, by the finish (a statement may not update
-- one row twice). Returns the ordinals (from 1) of the rows applied (a
-- checkpoint written with a finish is not listed; the finish's row is).
-- $1 kind[], $2 run id[], $3 owner[], $4 position[], $5 name[], $6 value
-- (JSON)[], $7 status[], $8 result (JSON)[], $9 error[], $10 time[].
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::timestamptz[])
        WITH ORDINALITY AS t(kind, run_id, owner, position, name, value, status, result, error, at, ord)
), held AS (
    -- Each run looked up by its key and locked, in id order (the input
    -- sorted first): a join would let a generic plan scan every running run.
    SELECT i.* FROM (SELECT * FROM input ORDER BY run_id) AS i
    CROSS JOIN LATERAL (
        SELECT 1 FROM {schema}.workflow_runs AS r
        WHERE r.id = i.run_id AND r.status = 'running' AND r.owner = i.owner
        FOR UPDATE
    ) AS locked
), saved AS (
    INSERT INTO {schema}.workflow_checkpoints (run_id, position, name, value, at)
    SELECT run_id, position, name, value::jsonb, at FROM held WHERE kind = 'c'
    ON CONFLICT (run_id, position) DO NOTHING
    RETURNING run_id, position
), touched AS (
    UPDATE {schema}.workflow_runs AS r
    SET updated_at = h.at
    FROM saved JOIN held AS h ON h.kind = 'c' AND h.run_id = saved.run_id AND h.position = saved.position
    WHERE r.id = saved.run_id
      AND NOT EXISTS (SELECT 1 FROM held AS f WHERE f.kind = 'f' AND f.run_id = saved.run_id)
    RETURNING h.ord
), ended AS (
    UPDATE {schema}.workflow_runs AS r
    SET status = h.status, result = h.result::jsonb, error = h.error, wait_topic = NULL, resume_at = NULL,
        suspended_at = NULL, owner = NULL, lease_until = NULL, updated_at = h.at
    FROM held AS h
    WHERE h.kind = 'f' AND r.id = h.run_id
    RETURNING h.ord, r.id
), dropped AS (
    DELETE FROM {schema}.workflow_watchers WHERE run_id IN (SELECT id FROM ended)
)
SELECT ord FROM touched UNION ALL SELECT ord FROM ended
