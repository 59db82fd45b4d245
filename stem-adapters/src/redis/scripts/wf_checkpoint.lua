-- Records a checkpoint, if the run is running, the caller holds its lease and
-- the position is free; the checkpoint's time becomes the run's updated_at.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] owner, ARGV[3] position, ARGV[4] the checkpoint
-- (JSON), ARGV[5] its time (ms).
-- Returns 1 if recorded, else 0.
local P, id = KEYS[1], ARGV[1]
local run, cp = P .. 'run:' .. id, P .. 'cp:' .. id
local status, owner = unpack(redis.call('HMGET', run, 'status', 'owner'))
if status ~= 'running' or owner ~= ARGV[2] then
  return 0
end
if redis.call('HSETNX', cp, ARGV[3], ARGV[4]) == 0 then
  return 0
end
redis.call('HSET', run, 'cursor', redis.call('HLEN', cp), 'updated_at', ARGV[5])
redis.call('ZADD', P .. 'running', ARGV[5], id)
return 1
