-- Writes a task's status unless a newer delivery already wrote one (fencing).
-- KEYS[1] the task's hash.
-- ARGV[1] the fence, ARGV[2] the status (JSON), ARGV[3] '1' if the state is
-- final, ARGV[4] the retention in milliseconds, ARGV[5] the task id,
-- ARGV[6] the channel that hears of final states.
-- Returns 1 if written, 0 if refused.
local current = redis.call('HGET', KEYS[1], 'fence')
if current and tonumber(current) > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'status', ARGV[2])
if ARGV[3] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PUBLISH', ARGV[6], ARGV[5])
else
  redis.call('PERSIST', KEYS[1])
end
return 1
