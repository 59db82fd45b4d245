-- Takes the next slot of a rate limit's schedule (the generic cell rate
-- algorithm, as `stem::rate::next_slot` computes it), on Redis's clock.
-- KEYS[1] the schedule: its theoretical arrival time (tat), in microseconds
-- since the epoch, expiring just after it so that an idle schedule vanishes.
-- ARGV[1] the interval in microseconds, ARGV[2] the burst (at least 1).
-- Returns the wait before the slot starts, in microseconds (0: now).
-- Times stay below 2^53, exact in Lua's numbers (the caller caps the interval).
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stored = redis.call('GET', KEYS[1])
local tat = stored and tonumber(stored) or now
if tat < now then tat = now end
tat = tat + interval
local wait = tat - interval * burst - now
if wait < 0 then wait = 0 end
-- Milliseconds until the new tat, rounded up, plus one: at least 1 (Redis
-- rejects a zero expiry).
local ttl = math.floor((tat - now + 999) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', string.format('%d', ttl))
return wait
