-- Leases up to `max` messages of one queue to a consumer: first those whose
-- lease ended (taken over with XCLAIM), then new entries, highest band first
-- (XREADGROUP). Due delayed messages are first moved onto their streams.
-- KEYS[1] the queue's key prefix.
-- ARGV[1] the group, ARGV[2] the consumer, ARGV[3] max, ARGV[4] lease in ms.
-- Returns {now, next_event_or_-1, {{id, band, entry, deliveries, env, until}...},
-- {{stream, last_entry_id}...}, touched}: the last ids let a client that found
-- nothing block on XREAD for entries newer than those, missing none; `touched`
-- counts entries read, usable or not (a client that got nothing usable but
-- touched some calls again at once).
local P, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local max, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local leases, delayed = P .. 'leases', P .. 'delayed'

local function ensure_group(stream)
  local ok = pcall(redis.call, 'XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
  return ok
end

for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', delayed, id)
  local msg = P .. 'msg:' .. id
  local band = redis.call('HGET', msg, 'band')
  if band then
    local stream = P .. 's' .. band
    if redis.call('EXISTS', stream) == 0 then ensure_group(stream) end
    redis.call('HSET', msg, 'entry', redis.call('XADD', stream, '*', 'id', id))
  end
end

local out = {}
local until_ms = now + lease
-- Entries read or taken over, usable or not: a call that read some, even if
-- none was usable, tells the client to call again rather than block.
local touched = 0
-- Leases not written yet, as ZADD's score-member pairs: one ZADD per read
-- rather than one per delivery. A read's leases are written before the next
-- read, so that a read that fails leaves no earlier entry in the group without
-- a lease (it would be stranded); and at most 500 at a time (unpack takes a
-- few thousand values at most).
local leased = {}
local function write_leases()
  if #leased > 0 then
    redis.call('ZADD', leases, unpack(leased))
    leased = {}
  end
end
local function take(id, msg, band, entry, env)
  local deliveries = redis.call('HINCRBY', msg, 'deliveries', 1)
  leased[#leased + 1] = until_ms
  leased[#leased + 1] = id
  if #leased >= 1000 then write_leases() end
  out[#out + 1] = {id, band, entry, deliveries, env, until_ms}
end

if max > 0 then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, max)) do
    touched = touched + 1
    local msg = P .. 'msg:' .. id
    local band, entry, env = unpack(redis.call('HMGET', msg, 'band', 'entry', 'env'))
    if band and entry then
      redis.call('XCLAIM', P .. 's' .. band, group, consumer, 0, entry, 'JUSTID')
      take(id, msg, band, entry, env)
    else
      redis.call('ZREM', leases, id)
    end
  end
  write_leases()
end

for band = 9, 0, -1 do
  if #out >= max then break end
  local stream = P .. 's' .. band
  if redis.call('EXISTS', stream) == 1 then
    local ok, got = pcall(redis.call, 'XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - #out, 'STREAMS', stream, '>')
    if not ok then
      ensure_group(stream)
      got = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - #out, 'STREAMS', stream, '>')
    end
    if got then
      for _, e in ipairs(got[1][2]) do
        touched = touched + 1
        local entry, fields = e[1], e[2]
        local id = fields[2]
        local msg = P .. 'msg:' .. id
        local current, env = unpack(redis.call('HMGET', msg, 'entry', 'env'))
        if current == entry then
          take(id, msg, tostring(band), entry, env)
        else
          -- A message deleted (purged) or moved since this entry was added.
          redis.call('XACK', stream, group, entry)
          redis.call('XDEL', stream, entry)
        end
      end
      write_leases()
    end
  end
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
return {now, next_event, out, lasts, touched}
