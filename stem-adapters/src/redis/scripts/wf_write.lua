-- The fenced writes of many executions at once (group commit): each write is
-- seven arguments, a checkpoint or an owned finish (see wf_lib.lua):
--   'c', run id, owner, position, the checkpoint (JSON), '', its time (ms)
--   'f', run id, owner, final status, 'result' or 'error', its value, now (ms)
-- A finish may follow checkpoints written with it, kind 'C' (arguments as
-- 'c'), which answer nothing: the finish that follows answers for them.
-- KEYS[1] the workflow key prefix.
-- Returns one 1 (applied) or 0 (fenced out) per 'c' and 'f' write, in order.
local P, out = KEYS[1], {}
for i = 1, #ARGV, 7 do
  local kind, id, owner, a, b, c, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  if kind == 'C' then
    save_checkpoint(P, id, owner, a, b, at)
  elseif kind == 'c' then
    out[#out + 1] = save_checkpoint(P, id, owner, a, b, at)
  else
    out[#out + 1] = finish(P, id, '1', owner, a, b, c, at)
  end
end
return out
