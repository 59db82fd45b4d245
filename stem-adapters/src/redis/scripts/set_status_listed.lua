-- `set_status.lua` with the task listing (`task_listing=true`): the same
-- fenced writes, and each status written moves its task's member in the
-- listing's sets (`listing_lib.lua`): the old member (the record's `listed`
-- field) leaves its sets, the new one joins its own. Then, per final state
-- written, the oldest members of that state's set are checked, as many as
-- were written plus one, until one is current: the stale ones (their record
-- expired after the retention) leave their sets, so that the sets do not
-- grow for want of listings that would prune them.
-- KEYS: one task key per status, none twice, the first ARGV[3] of them final,
-- all of one slot on a Cluster (as for `set_status.lua`).
-- ARGV[1] the retention in milliseconds, ARGV[2] the channel that hears of
-- final states, ARGV[3] how many are final, ARGV[4] the listing's prefix
-- of the keys' slot, ARGV[5] the prefix of that slot's task records (an id
-- follows it), then three per key: the fence, the status and its member.
-- Returns, per key, 1 if written and 0 if refused.
local retention, channel, finals = ARGV[1], ARGV[2], tonumber(ARGV[3])
local P, R = ARGV[4], ARGV[5]
local written, all = {}, true
local ended, count = {}, {}
for i = 1, #KEYS do
  local key, fence, member = KEYS[i], ARGV[3 + 3 * i], ARGV[5 + 3 * i]
  local current, old = unpack(redis.call('HMGET', key, 'fence', 'listed'))
  if current and tonumber(current) > tonumber(fence) then
    written[i] = 0
    all = false
  else
    redis.call('HSET', key, 'fence', fence, 'status', ARGV[4 + 3 * i], 'listed', member)
    if i <= finals then
      redis.call('PEXPIRE', key, retention)
      local state = string.match(member, '^:(%a+):', 53)
      if not count[state] then
        ended[#ended + 1] = state
        count[state] = 0
      end
      count[state] = count[state] + 1
    else
      redis.call('PERSIST', key)
    end
    if old ~= member then
      if old then unlist(P, old) end
      list(P, member)
    end
    written[i] = 1
  end
end
for _, state in ipairs(ended) do
  local set = P .. 'state:' .. state
  for _ = 0, count[state] do
    local oldest = redis.call('ZRANGEBYLEX', set, '-', '+', 'LIMIT', 0, 1)[1]
    if not oldest or redis.call('HGET', R .. listed_id(oldest), 'listed') == oldest then break end
    unlist(P, oldest)
  end
end
announce(channel, finals, all, written)
return written
