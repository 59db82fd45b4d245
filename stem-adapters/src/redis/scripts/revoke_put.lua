-- Puts revokes, each replacing the one of its task id (of two of one id in a
-- batch, the later wins).
-- ARGV, three per revoke: the task id, the revoke (JSON), when it expires
-- (µs since the epoch).
for i = 1, #ARGV, 3 do
  redis.call('HSET', ALL, ARGV[i], ARGV[i + 1])
  redis.call('ZADD', EXPIRY, ARGV[i + 2], ARGV[i])
end
return 1
