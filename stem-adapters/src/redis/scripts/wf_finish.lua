-- Ends a run: with an owner, if the run is running and the owner holds its
-- lease; without, if it is not final yet. Clears its suspension, lease and
-- watcher, and indexes the run as ended at `now`. Finished runs stay (no
-- expiry) until `prune_runs` deletes them, like the other stores' runs.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] '1' with an owner, ARGV[3] the owner, ARGV[4] the
-- final status, ARGV[5] the field it sets ('result' or 'error'), ARGV[6] its
-- value (JSON for a result), ARGV[7] now (ms).
-- Returns 1 if the run ended, else 0.
local P, id = KEYS[1], ARGV[1]
local run = P .. 'run:' .. id
local status, owner = unpack(redis.call('HMGET', run, 'status', 'owner'))
if not status then
  return 0
end
if ARGV[2] == '1' then
  if status ~= 'running' or owner ~= ARGV[3] then
    return 0
  end
elseif status == 'completed' or status == 'failed' or status == 'cancelled' then
  return 0
end
drop_watcher(P, run, id)
redis.call('HSET', run, 'status', ARGV[4], ARGV[5], ARGV[6], 'updated_at', ARGV[7])
redis.call('HDEL', run, 'wait_topic', 'resume_at', 'suspended_at', 'owner', 'lease_until')
redis.call('ZREM', P .. 'due', id)
redis.call('ZREM', P .. 'running', id)
redis.call('ZADD', P .. 'ended', ARGV[7], id)
return 1
