-- Removes the ready and delayed messages of queue $1, and leased ones whose
-- lease ended; messages under a live lease stay.
DELETE FROM {schema}.messages WHERE queue = $1 AND (state IN (0, 3) OR (state = 1 AND ready_at <= now()))
