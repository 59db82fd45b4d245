-- Ends a run (see `finish` in wf_lib.lua).
-- KEYS[1] the workflow key prefix.
-- ARGV[1] run id, ARGV[2] '1' with an owner, ARGV[3] the owner, ARGV[4] the
-- final status, ARGV[5] the field it sets ('result' or 'error'), ARGV[6] its
-- value (JSON for a result), ARGV[7] now (ms).
-- Returns 1 if the run ended, else 0.
return finish(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
