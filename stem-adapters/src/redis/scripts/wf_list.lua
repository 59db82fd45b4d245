-- Lists runs newest first (by creation time, then id), filtered by workflow
-- and status, skipping `offset` matches and returning at most `limit`.
-- KEYS[1] the workflow key prefix.
-- ARGV[1] '1' to filter by workflow, ARGV[2] the workflow, ARGV[3] '1' to
-- filter by status, ARGV[4] the status, ARGV[5] offset, ARGV[6] limit (at least 1).
-- Returns one array of the run hash's fields and values per run.
local P = KEYS[1]
local by_workflow, workflow, by_status, wanted = ARGV[1] == '1', ARGV[2], ARGV[3] == '1', ARGV[4]
local offset, limit = tonumber(ARGV[5]), tonumber(ARGV[6])
local index = P .. 'runs'
local runs, strays, skipped, start = {}, {}, 0, 0
while #runs < limit do
  local ids = redis.call('ZREVRANGE', index, start, start + 199)
  if #ids == 0 then
    break
  end
  for _, id in ipairs(ids) do
    local run = P .. 'run:' .. id
    local w, s = unpack(redis.call('HMGET', run, 'workflow', 'status'))
    if not w then
      strays[#strays + 1] = id
    elseif (not by_workflow or w == workflow) and (not by_status or s == wanted) then
      if skipped < offset then
        skipped = skipped + 1
      else
        runs[#runs + 1] = redis.call('HGETALL', run)
        if #runs == limit then
          break
        end
      end
    end
  end
  start = start + #ids
end
for _, id in ipairs(strays) do
  redis.call('ZREM', index, id)
end
return runs
