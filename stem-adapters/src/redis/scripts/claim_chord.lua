-- Claims a chord's callback: only the first caller on an existing group wins.
-- KEYS[1] the group's hash; ARGV[1] the callback's task id.
-- Returns 1 for the winner, 0 otherwise.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return redis.call('HSETNX', KEYS[1], 'chord', ARGV[1])
