-- Suspends a run, if it is running, the caller holds its lease and the
-- suspension's checkpoint (if any) has a free position: records the
-- checkpoint, sets the wake time and the watcher, and releases the lease.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] owner, ARGV[3] the time of suspending (ms),
-- ARGV[4] the wake time (ms) or '', ARGV[5] the checkpoint's position or '',
-- ARGV[6] the checkpoint (JSON), ARGV[7] '1' with a watcher, then
-- ARGV[8] its topic, ARGV[9] the watcher (JSON), ARGV[10] the watched
-- position, ARGV[11] the watched checkpoint's name (a JSON string).
-- Returns 1 if suspended, else 0.
local P, id, at, resume_at, position = KEYS[1], ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local run, cp = P .. 'run:' .. id, P .. 'cp:' .. id
local status, owner = unpack(redis.call('HMGET', run, 'status', 'owner'))
if status ~= 'running' or owner ~= ARGV[2] then
  return 0
end
if position ~= '' then
  if redis.call('HSETNX', cp, position, ARGV[6]) == 0 then
    return 0
  end
  redis.call('HSET', run, 'cursor', redis.call('HLEN', cp))
end
drop_watcher(P, run, id)
redis.call('HSET', run, 'status', 'suspended', 'suspended_at', at, 'updated_at', at)
redis.call('HDEL', run, 'owner', 'lease_until')
redis.call('ZREM', P .. 'running', id)
if resume_at ~= '' then
  redis.call('HSET', run, 'resume_at', resume_at)
  redis.call('ZADD', P .. 'due', resume_at, id)
else
  redis.call('HDEL', run, 'resume_at')
  redis.call('ZREM', P .. 'due', id)
end
if ARGV[7] == '1' then
  local topic = ARGV[8]
  redis.call('ZADD', P .. 'watch:' .. topic, redis.call('INCR', P .. 'watch_seq'), id)
  redis.call('HSET', run, 'wait_topic', topic, 'watcher', ARGV[9], 'watch_position', ARGV[10], 'watch_name', ARGV[11])
else
  redis.call('HDEL', run, 'wait_topic')
end
return 1
