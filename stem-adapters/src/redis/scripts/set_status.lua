-- Writes task statuses unless a newer delivery already wrote one (fencing),
-- then publishes the ids of those that reached a final state, in one message.
-- A task's record is one string key, '<fence>|<status JSON>'; the producer's
-- queued record has fence 0. A final record expires after the retention; any
-- other is kept (SET drops an earlier expiry).
-- KEYS: one task key per status.
-- ARGV[1] the retention in milliseconds, ARGV[2] the channel that hears of
-- final states, then four per status: fence, the record ('<fence>|<JSON>'),
-- '1' if final, task id.
-- Returns, per status, 1 if written and 0 if refused.
local retention, channel = ARGV[1], ARGV[2]
-- Every stored record in one call; a record written earlier in this batch
-- counts instead of the stored one.
local stored = redis.call('MGET', unpack(KEYS))
local fences = {}
local written, done = {}, {}
for i = 1, #KEYS do
  local key, at = KEYS[i], 3 + (i - 1) * 4
  local fence = tonumber(ARGV[at])
  local current = fences[key]
  if current == nil and stored[i] then
    current = tonumber(string.match(stored[i], '^(%d+)|'))
  end
  if current and current > fence then
    written[i] = 0
  else
    if ARGV[at + 2] == '1' then
      redis.call('SET', key, ARGV[at + 1], 'PX', retention)
      done[#done + 1] = ARGV[at + 3]
    else
      redis.call('SET', key, ARGV[at + 1])
    end
    fences[key] = fence
    written[i] = 1
  end
end
if #done > 0 then
  redis.call('PUBLISH', channel, table.concat(done, ' '))
end
return written
