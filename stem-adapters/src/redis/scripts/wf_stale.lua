-- Finds up to `limit` running runs that nobody holds (no lease, or one ended
-- by now) and that have not changed since `idle_since`, least recently
-- changed first, and sets their updated_at to now.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] idle_since (ms), ARGV[2] now (ms), ARGV[3] limit (at least 1).
-- Returns run id, queue, run id, queue ...
local P, idle_since, now, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local running = P .. 'running'
local found, strays, offset = {}, {}, 0
while #found < limit do
  local ids = redis.call('ZRANGEBYSCORE', running, '-inf', idle_since, 'LIMIT', offset, 200)
  if #ids == 0 then
    break
  end
  for _, id in ipairs(ids) do
    local status, lease = unpack(redis.call('HMGET', P .. 'run:' .. id, 'status', 'lease_until'))
    if status ~= 'running' then
      strays[#strays + 1] = id
    elseif not lease or tonumber(lease) <= tonumber(now) then
      found[#found + 1] = id
      if #found == limit then
        break
      end
    end
  end
  offset = offset + #ids
end
for _, id in ipairs(strays) do
  redis.call('ZREM', running, id)
end
local stale = {}
for _, id in ipairs(found) do
  local run = P .. 'run:' .. id
  redis.call('HSET', run, 'updated_at', now)
  redis.call('ZADD', running, now, id)
  stale[#stale + 1] = id
  stale[#stale + 1] = redis.call('HGET', run, 'queue')
end
return stale
