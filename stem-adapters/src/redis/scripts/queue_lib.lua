-- Shared by the queue scripts (joined in front of each one).
-- The keys of one queue, under its prefix P (they share the queue's hash tag):
--   s0 .. s9   one stream per priority band; an entry holds `id` and `env`
--              (the envelope as JSON), read through the consumer group.
--   ids        hash: task id -> where its one message is: 'band:entry:token'
--              on a stream (token 0 until delivered; then the delivery's
--              fencing token), or 'd' while delayed.
--   later      hash: task id -> band digit followed by the envelope, for
--              delayed messages.
--   delayed    sorted set of delayed task ids by not_before (ms).
--   leases     sorted set of delivered task ids by lease end (ms).
--   seq        the last fencing token handed out.
--   wake       a short stream that gets an entry per delayed message.
--   dead, dead:<id>, dead_seq   the dead letter queue.
-- Every path that drops or moves a message deletes its stream entry, so an
-- entry on a stream is always its message's current copy.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The band, entry and token of a location; nothing for 'd' (delayed).
local function parse(loc)
  return string.match(loc, '^(%d):([^:]+):(%d+)$')
end

-- A whole number as text: integer digits (tostring would print large ones as
-- 1.7e+15, and goes through the slow floating point printf).
local function digits(n)
  return string.format('%d', n)
end

-- The value of `name` in a stream entry's field list.
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

-- Drops the copy of message `id` stored at `loc`: its stream entry and lease,
-- or its delayed slot.
local function forget(P, group, id, loc)
  local band, entry = parse(loc)
  if band then
    local stream = P .. 's' .. band
    redis.call('XACK', stream, group, entry)
    redis.call('XDEL', stream, entry)
    redis.call('ZREM', P .. 'leases', id)
  else
    redis.call('ZREM', P .. 'delayed', id)
    redis.call('HDEL', P .. 'later', id)
  end
end

-- Stores message `id`: delayed until `not_before` (ms) if that is later than
-- `now`, else ready on its band's stream. Returns its location, for `ids`
-- (which the caller writes, one HSET for a whole batch). A stream is created
-- by its first XADD; its consumer group by the first claim that finds it
-- missing (from entry 0, so it reads every entry).
local function place(P, id, env, band, not_before, now)
  if not_before and not_before > now then
    redis.call('ZADD', P .. 'delayed', not_before, id)
    redis.call('HSET', P .. 'later', id, band .. env)
    -- Wakes receivers blocked past this message's time (see claim.lua).
    redis.call('XADD', P .. 'wake', 'MAXLEN', '~', 16, '*', 'at', not_before)
    return 'd'
  end
  return band .. ':' .. redis.call('XADD', P .. 's' .. band, '*', 'id', id, 'env', env) .. ':0'
end
