-- Takes a run's lease: if it is running and its lease is free, the caller's,
-- or ended.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] owner, ARGV[3] now (ms), ARGV[4] the lease's end (ms).
-- Returns 1 if the owner holds the lease now, else 0.
local run = KEYS[1] .. 'run:' .. ARGV[1]
local status, owner, lease = unpack(redis.call('HMGET', run, 'status', 'owner', 'lease_until'))
if status ~= 'running' then
  return 0
end
if owner and owner ~= ARGV[2] and lease and tonumber(lease) > tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', run, 'owner', ARGV[2], 'lease_until', ARGV[4])
return 1
