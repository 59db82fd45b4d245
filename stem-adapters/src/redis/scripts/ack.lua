-- Acks deliveries of one queue whose receipts are still current (delivery
-- count equal to the token, lease not ended); skips the others.
-- KEYS[1] the queue's key prefix.
-- ARGV[1] the group, then four per receipt: task id, token, band, entry.
-- Returns how many were acked.
local P, group = KEYS[1], ARGV[1]
local leases = P .. 'leases'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries, ids, msgs, seen = {}, {}, {}, {}
-- Every lease's end in one call (ZMSCORE, Redis 6.2), not one ZSCORE each.
local asked = {}
for i = 2, #ARGV, 4 do
  asked[#asked + 1] = ARGV[i]
end
local ends = redis.call('ZMSCORE', leases, unpack(asked))
for i = 2, #ARGV, 4 do
  local id, token, band, entry = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  local msg = P .. 'msg:' .. id
  local deliveries = tonumber(redis.call('HGET', msg, 'deliveries'))
  local lease_end = tonumber(ends[(i + 2) / 4])
  if not seen[id] and deliveries == token and lease_end and lease_end > now then
    seen[id] = true
    local stream = P .. 's' .. band
    entries[stream] = entries[stream] or {}
    table.insert(entries[stream], entry)
    ids[#ids + 1] = id
    msgs[#msgs + 1] = msg
  end
end
for stream, list in pairs(entries) do
  redis.call('XACK', stream, group, unpack(list))
  redis.call('XDEL', stream, unpack(list))
end
if #ids > 0 then
  redis.call('ZREM', leases, unpack(ids))
  redis.call('DEL', unpack(msgs))
end
return #ids
