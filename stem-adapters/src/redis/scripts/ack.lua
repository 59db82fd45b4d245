-- Acks deliveries of one queue whose receipts are still current (the message
-- is still at the receipt's entry under the receipt's token, and its lease has
-- not ended); skips the others.
-- KEYS[1] the queue's key prefix.
-- ARGV[1] the group, then four per receipt: task id, token, band, entry.
-- Returns how many were acked.
local P, group = KEYS[1], ARGV[1]
local now = now_ms()
local asked = {}
for i = 2, #ARGV, 4 do
  asked[#asked + 1] = ARGV[i]
end
-- Every lease end and location in one call each, not one per receipt.
local ends = redis.call('ZMSCORE', P .. 'leases', unpack(asked))
local current = redis.call('HMGET', P .. 'ids', unpack(asked))
local entries, acked, seen = {}, {}, {}
for k, id in ipairs(asked) do
  local i = 2 + (k - 1) * 4
  local token, band, entry = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local lease_end = tonumber(ends[k])
  if not seen[id] and lease_end and lease_end > now and current[k] == band .. ':' .. entry .. ':' .. token then
    seen[id] = true
    local stream = P .. 's' .. band
    entries[stream] = entries[stream] or {}
    table.insert(entries[stream], entry)
    acked[#acked + 1] = id
  end
end
for stream, list in pairs(entries) do
  redis.call('XACK', stream, group, unpack(list))
  redis.call('XDEL', stream, unpack(list))
end
if #acked > 0 then
  redis.call('ZREM', P .. 'leases', unpack(acked))
  redis.call('HDEL', P .. 'ids', unpack(acked))
end
return #acked
