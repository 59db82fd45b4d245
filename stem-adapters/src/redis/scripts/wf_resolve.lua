-- Delivers an event to up to `limit` runs waiting for a topic, oldest watcher
-- first: records the value as each run's watched checkpoint, removes its
-- watcher and makes it running again. One script, so racing callers never
-- take one watcher twice.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] topic, ARGV[2] the value (JSON), ARGV[3] now (ms), ARGV[4] now
-- (a JSON string, the checkpoint's time), ARGV[5] limit (at least 1).
-- Returns run id, queue, run id, queue ... of the runs made running.
local P, topic, value, now, at = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = P .. 'watch:' .. topic
local resumed = {}
for _, id in ipairs(redis.call('ZRANGE', key, 0, tonumber(ARGV[5]) - 1)) do
  local run, cp = P .. 'run:' .. id, P .. 'cp:' .. id
  local status, position, name = unpack(redis.call('HMGET', run, 'status', 'watch_position', 'watch_name'))
  redis.call('ZREM', key, id)
  drop_watcher(P, run, id)
  if status == 'suspended' and position then
    local checkpoint = '{"position":' .. position .. ',"name":' .. name .. ',"value":' .. value .. ',"at":' .. at .. '}'
    redis.call('HSET', cp, position, checkpoint)
    redis.call('HSET', run, 'cursor', redis.call('HLEN', cp))
    resumed[#resumed + 1] = id
    resumed[#resumed + 1] = wake(P, run, id, now)
  end
end
return resumed
