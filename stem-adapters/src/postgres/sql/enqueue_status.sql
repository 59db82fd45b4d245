-- The queued record of a task enqueued inside a caller's transaction; a
-- record that already exists is left alone (a worker's wins).
-- $1 id, $2 task name, $3 queue, $4 status (JSON), $5 its update time
-- (microseconds since the epoch).
INSERT INTO {schema}.tasks (id, task, queue, state, fence, status, updated_at)
VALUES ($1, $2, $3, 'queued', 0, $4, $5)
ON CONFLICT (id) DO NOTHING
