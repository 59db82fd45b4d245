-- Writes task statuses unless a newer delivery already wrote one (fencing),
-- then publishes the keys of those that reached a final state, in one message.
-- A task's record is one string key, '<fence>|<status JSON>'; the producer's
-- queued record has fence 0. A final record expires after the retention; any
-- other is kept (SET drops an earlier expiry).
-- KEYS: one task key per status, none twice (the caller starts another call
-- at a repeated key, so that the later status is compared with the earlier);
-- the first ARGV[3] of them are final.
-- ARGV[1] the retention in milliseconds, ARGV[2] the channel that hears of
-- final states, ARGV[3] how many are final, then one record per key.
-- Each value passed costs the script time, hence no separate fence, flag or
-- id: the fence is the record's prefix, read only when a record is stored.
-- Returns, per key, 1 if written and 0 if refused.
local retention, channel, finals = ARGV[1], ARGV[2], tonumber(ARGV[3])
local stored = redis.call('MGET', unpack(KEYS))
local written, all = {}, true
for i = 1, #KEYS do
  local record, old = ARGV[3 + i], stored[i]
  local current = old and tonumber(string.match(old, '^(%d+)|'))
  if current and current > tonumber(string.match(record, '^(%d+)|')) then
    written[i] = 0
    all = false
  else
    if i <= finals then
      redis.call('SET', KEYS[i], record, 'PX', retention)
    else
      redis.call('SET', KEYS[i], record)
    end
    written[i] = 1
  end
end
if finals > 0 then
  local done
  if all then
    done = table.concat(KEYS, ' ', 1, finals)
  else
    local list, n = {}, 0
    for i = 1, finals do
      if written[i] == 1 then
        n = n + 1
        list[n] = KEYS[i]
      end
    end
    done = table.concat(list, ' ')
  end
  if done ~= '' then
    redis.call('PUBLISH', channel, done)
  end
end
return written
