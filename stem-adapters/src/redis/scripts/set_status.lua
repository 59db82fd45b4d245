-- Writes task statuses unless a newer delivery already wrote one (fencing),
-- then publishes the keys of those that reached a final state, in one message.
-- A task's record is a hash: `fence` (the fencing token of the delivery that
-- wrote it; none in a producer's queued record, which counts as 0) and
-- `status` (the status as JSON). A final record expires after the retention;
-- any other is kept.
-- KEYS: one task key per status, none twice (the caller starts another call
-- at a repeated key, so that the later status is compared with the earlier);
-- the first ARGV[3] of them are final.
-- ARGV[1] the retention in milliseconds, ARGV[2] the channel that hears of
-- final states, ARGV[3] how many are final, then two per key: the fence and
-- the status.
-- Returns, per key, 1 if written and 0 if refused.
local retention, channel, finals = ARGV[1], ARGV[2], tonumber(ARGV[3])
local written, all = {}, true
for i = 1, #KEYS do
  local key, fence = KEYS[i], ARGV[2 + 2 * i]
  local current = redis.call('HGET', key, 'fence')
  if current and tonumber(current) > tonumber(fence) then
    written[i] = 0
    all = false
  else
    redis.call('HSET', key, 'fence', fence, 'status', ARGV[3 + 2 * i])
    if i <= finals then
      redis.call('PEXPIRE', key, retention)
    else
      redis.call('PERSIST', key)
    end
    written[i] = 1
  end
end
announce(channel, finals, all, written)
return written
