-- Deletes what has expired: final task states past the retention, groups
-- with their members, heartbeats and locks. Runs now and then, so the tables
-- stay small.
WITH tasks AS (DELETE FROM {schema}.tasks WHERE expires_at <= now()),
     groups AS (DELETE FROM {schema}.groups WHERE expires_at <= now() RETURNING id),
     members AS (DELETE FROM {schema}.group_members WHERE group_id IN (SELECT id FROM groups)),
     beats AS (DELETE FROM {schema}.heartbeats WHERE expires_at <= now())
DELETE FROM {schema}.locks WHERE expires_at <= now()
