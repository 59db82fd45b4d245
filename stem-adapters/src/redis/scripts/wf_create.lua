-- Creates a workflow run, unless one with its id exists.
-- KEYS[1] the workflow key prefix (stem:<ns>:wf:{<ns>}:).
-- ARGV[1] id, ARGV[2] workflow, ARGV[3] queue, ARGV[4] args (JSON),
-- ARGV[5] cancellation policy (JSON), ARGV[6] the creation time in ms.
-- Returns 1 if created, 0 if the id is taken (nothing changed).
local P, id, at = KEYS[1], ARGV[1], ARGV[6]
local run = P .. 'run:' .. id
if redis.call('EXISTS', run) == 1 then
  return 0
end
redis.call('DEL', P .. 'cp:' .. id)
redis.call('HSET', run, 'id', id, 'workflow', ARGV[2], 'queue', ARGV[3], 'args', ARGV[4], 'policy', ARGV[5],
  'status', 'running', 'cursor', 0, 'created_at', at, 'updated_at', at)
redis.call('ZADD', P .. 'runs', at, id)
redis.call('ZADD', P .. 'running', at, id)
return 1
