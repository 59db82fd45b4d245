-- Forgets the revokes that expired at or before now.
-- ARGV[1] now in µs since the epoch.
-- Returns how many.
local ids = redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', ARGV[1])
for _, id in ipairs(ids) do
  redis.call('HDEL', ALL, id)
end
redis.call('ZREMRANGEBYSCORE', EXPIRY, '-inf', ARGV[1])
return #ids
