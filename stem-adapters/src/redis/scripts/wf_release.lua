-- Gives up a run's lease, if the caller holds it.
-- KEYS[1] the workflow key prefix; ARGV[1] run id, ARGV[2] owner.
-- Returns 1 if released, else 0.
local run = KEYS[1] .. 'run:' .. ARGV[1]
if redis.call('HGET', run, 'owner') ~= ARGV[2] then
  return 0
end
redis.call('HDEL', run, 'owner', 'lease_until')
return 1
