-- Makes up to `limit` suspended runs whose wake time has come running again,
-- earliest first, removing their watchers.
-- KEYS[1] the workflow key prefix; ARGV[1] now (ms), ARGV[2] limit (at least 1).
-- Returns run id, queue, run id, queue ... of the runs made running.
local P, now = KEYS[1], ARGV[1]
local due = P .. 'due'
local resumed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))) do
  local run = P .. 'run:' .. id
  if redis.call('HGET', run, 'status') == 'suspended' then
    resumed[#resumed + 1] = id
    resumed[#resumed + 1] = wake(P, run, id, now)
  else
    redis.call('ZREM', due, id)
  end
end
return resumed
