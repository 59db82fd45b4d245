-- Counts one queue's messages: ready now (including due delayed ones and
-- those whose lease ended), leased, delayed and dead-lettered.
-- KEYS[1] the queue's key prefix; ARGV[1] the group.
-- Returns {ready, leased, delayed, dead}.
local P, group = KEYS[1], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries, delivered = 0, 0
for band = 0, 9 do
  local stream = P .. 's' .. band
  if redis.call('EXISTS', stream) == 1 then
    entries = entries + redis.call('XLEN', stream)
    local ok, summary = pcall(redis.call, 'XPENDING', stream, group)
    if ok then delivered = delivered + summary[1] end
  end
end
local leased = redis.call('ZCARD', P .. 'leases')
local ended = redis.call('ZCOUNT', P .. 'leases', '-inf', now)
local delayed = redis.call('ZCARD', P .. 'delayed')
local due = redis.call('ZCOUNT', P .. 'delayed', '-inf', now)
local dead = redis.call('ZCARD', P .. 'dead')
return {entries - delivered + ended + due, leased - ended, delayed - due, dead}
