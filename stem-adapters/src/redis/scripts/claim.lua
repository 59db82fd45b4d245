-- Leases up to `max` messages of one queue to a consumer: first those whose
-- lease ended (taken over with XCLAIM), then new entries, highest band first
-- (XREADGROUP). Due delayed messages are first moved onto their streams.
-- KEYS[1] the queue's key prefix.
-- ARGV[1] the group, ARGV[2] the consumer, ARGV[3] max, ARGV[4] lease in ms.
-- Returns {now, next_event_or_-1, {id, band, entry, env, id, band, ...},
-- {{stream, last_entry_id}...}, touched, token_before, lease_end}: the leased
-- messages as one flat list, four values each (a table per message costs the
-- script more than its XADD did); the k-th one (from 1) has the fencing token
-- token_before + k, and all share lease_end. When it leased nothing, the last
-- ids let a client block on XREAD for entries newer than those, missing none
-- (they and the next event are only computed then); `touched` counts entries
-- read, usable or not (a client that got nothing usable but touched some
-- calls again at once).
--
-- Each delivery gets a fencing token from the queue's `seq`: larger than every
-- token handed out before on this queue, and at least the server's time in
-- microseconds, so a task's tokens grow even if it moves between queues.
local P, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local max, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local ids, leases, delayed = P .. 'ids', P .. 'leases', P .. 'delayed'

local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
if #due > 0 then
  local stored = redis.call('HMGET', P .. 'later', unpack(due))
  local locs = {}
  for k, id in ipairs(due) do
    local v = stored[k]
    if v then
      locs[#locs + 1] = id
      locs[#locs + 1] = place(P, id, string.sub(v, 2), string.sub(v, 1, 1), nil, now)
    end
  end
  redis.call('ZREM', delayed, unpack(due))
  redis.call('HDEL', P .. 'later', unpack(due))
  if #locs > 0 then redis.call('HSET', ids, unpack(locs)) end
end

local token = math.max(tonumber(redis.call('GET', P .. 'seq') or 0), now * 1000)
local first_token = token
local until_ms = now + lease
-- Numbers given to redis.call are turned into text by a slow printf; this one once.
local until_text = digits(until_ms)
local out = {}
-- Entries read or taken over, usable or not.
local touched = 0
-- Leases and locations not written yet: one ZADD and one HSET per read rather
-- than one each per delivery, written before the next read (so that a read
-- that fails leaves no earlier entry in the group without a lease), and at most
-- 500 at a time (unpack takes a few thousand values at most). The tables are
-- reused: `pending` says how many pairs are current; counters stand in for
-- the length operator.
local leased, locs, pending = {}, {}, 0
local taken = 0
local function flush()
  if pending > 0 then
    redis.call('ZADD', leases, unpack(leased, 1, pending * 2))
    redis.call('HSET', ids, unpack(locs, 1, pending * 2))
    pending = 0
  end
end
local function take(id, band, entry, env)
  token = token + 1
  local at = pending * 2
  leased[at + 1] = until_text
  leased[at + 2] = id
  locs[at + 1] = id
  locs[at + 2] = band .. ':' .. entry .. ':' .. digits(token)
  pending = pending + 1
  local o = taken * 4
  out[o + 1], out[o + 2], out[o + 3], out[o + 4] = id, band, entry, env
  taken = taken + 1
  if pending >= 500 then flush() end
end

if max > 0 then
  local ended = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, max)
  if #ended > 0 then
    local current = redis.call('HMGET', ids, unpack(ended))
    for k, id in ipairs(ended) do
      touched = touched + 1
      local band, entry
      if current[k] then band, entry = parse(current[k]) end
      -- XCLAIM returns nothing (or a nil entry) for an entry that is gone.
      local got = band and redis.call('XCLAIM', P .. 's' .. band, group, consumer, 0, entry) or {}
      local env = got[1] and got[1][2] and field(got[1][2], 'env')
      if env then
        take(id, band, entry, env)
      else
        redis.call('ZREM', leases, id)
      end
    end
    flush()
  end
end

for band = 9, 0, -1 do
  if taken >= max then break end
  local stream, band_text = P .. 's' .. band, digits(band)
  if redis.call('EXISTS', stream) == 1 then
    local ok, got = pcall(redis.call, 'XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - taken, 'STREAMS', stream, '>')
    if not ok then
      pcall(redis.call, 'XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
      got = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - taken, 'STREAMS', stream, '>')
    end
    if got then
      for _, e in ipairs(got[1][2]) do
        touched = touched + 1
        local entry, fields = e[1], e[2]
        -- Entries are written as id, then env; an entry of another form
        -- (not written by this adapter) is no message: it is dropped.
        if fields[3] == 'env' then
          take(fields[2], band_text, entry, fields[4])
        else
          redis.call('XACK', stream, group, entry)
          redis.call('XDEL', stream, entry)
        end
      end
      flush()
    end
  end
end

if token ~= first_token then
  redis.call('SET', P .. 'seq', digits(token))
end
if taken > 0 or touched > 0 then
  return {now, -1, out, {}, touched, first_token, until_ms}
end

local next_event = -1
for _, set in ipairs({delayed, leases}) do
  local first = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
  if first[2] then
    local at = tonumber(first[2])
    if next_event < 0 or at < next_event then next_event = at end
  end
end
-- The band streams, and the wake stream that gets an entry whenever a
-- delayed message is added, so that a blocked receiver recomputes its wait.
local lasts = {}
for band = 10, 0, -1 do
  local stream = band == 10 and (P .. 'wake') or (P .. 's' .. band)
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  lasts[#lasts + 1] = {stream, last[1] and last[1][1] or '0-0'}
end
return {now, next_event, out, lasts, touched, first_token, until_ms}
