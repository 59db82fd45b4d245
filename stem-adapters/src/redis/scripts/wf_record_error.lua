-- Records a run's last error without changing its status, if the run is not
-- final; the time becomes its updated_at (and its score in the running index,
-- while it is running).
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] the error, ARGV[3] now (ms).
-- Returns 1 if recorded, 0 if the run is unknown or final.
local P, id, now = KEYS[1], ARGV[1], ARGV[3]
local run = P .. 'run:' .. id
local status = redis.call('HGET', run, 'status')
if not status or status == 'completed' or status == 'failed' or status == 'cancelled' then
  return 0
end
redis.call('HSET', run, 'error', ARGV[2], 'updated_at', now)
if status == 'running' then
  redis.call('ZADD', P .. 'running', now, id)
end
return 1
