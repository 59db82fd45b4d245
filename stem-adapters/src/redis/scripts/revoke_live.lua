-- The revokes that hold at now: those that expire after it.
-- ARGV[1] now in µs since the epoch.
-- Returns the revokes (JSON), in no particular order.
local revokes = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', EXPIRY, '(' .. ARGV[1], '+inf')) do
  local revoke = redis.call('HGET', ALL, id)
  if revoke then
    revokes[#revokes + 1] = revoke
  end
end
return revokes
