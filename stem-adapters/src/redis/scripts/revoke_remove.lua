-- Removes the revoke of a task. ARGV[1] the task id.
-- Returns 1, or 0 if there was none.
redis.call('ZREM', EXPIRY, ARGV[1])
return redis.call('HDEL', ALL, ARGV[1])
