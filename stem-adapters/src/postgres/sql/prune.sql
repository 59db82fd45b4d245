-- Deletes what has expired: final task states past the retention, groups,
-- heartbeats and locks. Runs now and then, so the tables stay small.
WITH tasks AS (DELETE FROM {schema}.tasks WHERE expires_at <= now()),
     groups AS (DELETE FROM {schema}.groups WHERE expires_at <= now()),
     beats AS (DELETE FROM {schema}.heartbeats WHERE expires_at <= now())
DELETE FROM {schema}.locks WHERE expires_at <= now()
