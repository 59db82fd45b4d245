-- Writes task statuses unless a newer delivery already wrote one (fencing; a
-- record without a `fence` field, the producer's queued one, has fence 0),
-- then publishes the ids of those that reached a final state, in one message.
-- KEYS: one task hash per status.
-- ARGV[1] the retention in milliseconds, ARGV[2] the channel that hears of
-- final states, then four per status: fence, status (JSON), '1' if final, task id.
-- Returns, per status, 1 if written and 0 if refused.
local retention, channel = ARGV[1], ARGV[2]
local written, done = {}, {}
for i = 1, #KEYS do
  local key, at = KEYS[i], 3 + (i - 1) * 4
  local fence, status, final, id = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local current = redis.call('HGET', key, 'fence')
  if current and tonumber(current) > tonumber(fence) then
    written[i] = 0
  else
    redis.call('HSET', key, 'fence', fence, 'status', status)
    if final == '1' then
      redis.call('PEXPIRE', key, retention)
      done[#done + 1] = id
    else
      redis.call('PERSIST', key)
    end
    written[i] = 1
  end
end
if #done > 0 then
  redis.call('PUBLISH', channel, table.concat(done, ' '))
end
return written
