-- The statuses of many tasks, unless expired. $1 ids.
-- A task with no record but a stored message is queued: the producer of a
-- store whose broker and backend are one writes no queued record (see
-- publish_recorded in broker.rs); its message stands for it until a worker
-- writes the first status, which it does before it acks. Such rows come with
-- the envelope instead of the status.
SELECT id, status, NULL::text AS envelope
FROM {schema}.tasks
WHERE id = ANY($1::uuid[]) AND (expires_at IS NULL OR expires_at > now())
UNION ALL
SELECT m.id, NULL::text, m.envelope
FROM {schema}.messages AS m
WHERE m.id = ANY($1::uuid[])
  AND NOT EXISTS (
      SELECT 1 FROM {schema}.tasks AS t
      WHERE t.id = m.id AND (t.expires_at IS NULL OR t.expires_at > now()))
