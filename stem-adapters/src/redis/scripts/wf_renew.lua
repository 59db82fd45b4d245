-- Extends a run's lease, if the run is running and the caller holds it.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] owner, ARGV[3] the lease's new end (ms).
-- Returns 1 if extended, else 0.
local run = KEYS[1] .. 'run:' .. ARGV[1]
local status, owner = unpack(redis.call('HMGET', run, 'status', 'owner'))
if status ~= 'running' or owner ~= ARGV[2] then
  return 0
end
redis.call('HSET', run, 'lease_until', ARGV[3])
return 1
