-- Adds a member's final status to a group, if the group exists.
-- KEYS[1] the group's hash; ARGV[1] the member's id, ARGV[2] its status (JSON).
-- Returns the group's fields (HGETALL), or an empty list if there is no group.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
redis.call('HSET', KEYS[1], 'member:' .. ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
