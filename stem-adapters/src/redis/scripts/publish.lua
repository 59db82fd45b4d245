-- Stores messages of one queue and makes each ready (an entry on its band's
-- stream) or delayed (a member of the delayed set, until `not_before`).
-- KEYS[1] the queue's key prefix (every key below shares its hash tag).
-- ARGV[1] the group, then four per message: task id, envelope (JSON),
-- priority band (0-9), not_before in ms since the epoch ('' for none).
-- A message published under an id that is already stored replaces the stored
-- copy (its stream entry, delayed slot or lease go) and keeps its delivery
-- count, so fencing tokens only grow: a worker still holding the old copy can
-- no longer settle it. Returns how many were stored.
local P, group = KEYS[1], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ready = {}
for i = 2, #ARGV, 4 do
  local id, env, band, not_before = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local msg = P .. 'msg:' .. id
  local old_band, old_entry = unpack(redis.call('HMGET', msg, 'band', 'entry'))
  if old_band then
    if old_entry then
      redis.call('XACK', P .. 's' .. old_band, group, old_entry)
      redis.call('XDEL', P .. 's' .. old_band, old_entry)
      redis.call('HDEL', msg, 'entry')
    end
    redis.call('ZREM', P .. 'delayed', id)
    redis.call('ZREM', P .. 'leases', id)
  end
  -- A new message starts at 0 deliveries; a stored one keeps its count.
  local fields = {'env', env, 'band', band}
  if not old_band then
    fields[#fields + 1] = 'deliveries'
    fields[#fields + 1] = 0
  end
  if not_before and not_before > now then
    redis.call('ZADD', P .. 'delayed', not_before, id)
    -- Wakes receivers blocked past this message's time (see claim.lua).
    redis.call('XADD', P .. 'wake', 'MAXLEN', '~', 16, '*', 'at', not_before)
  else
    local stream = P .. 's' .. band
    if not ready[stream] then
      ready[stream] = true
      if redis.call('EXISTS', stream) == 0 then
        redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
      end
    end
    fields[#fields + 1] = 'entry'
    fields[#fields + 1] = redis.call('XADD', stream, '*', 'id', id)
  end
  redis.call('HSET', msg, unpack(fields))
end
return (#ARGV - 1) / 4
