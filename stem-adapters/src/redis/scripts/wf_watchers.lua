-- Lists up to `limit` watchers of a topic, oldest first.
-- KEYS[1] the workflow key prefix; ARGV[1] topic, ARGV[2] limit (at least 1).
-- Returns each watcher as JSON.
local P = KEYS[1]
local watchers = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'watch:' .. ARGV[1], 0, tonumber(ARGV[2]) - 1)) do
  local watcher = redis.call('HGET', P .. 'run:' .. id, 'watcher')
  if watcher then
    watchers[#watchers + 1] = watcher
  end
end
return watchers
