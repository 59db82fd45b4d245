-- Records how claimed fires went; an unknown id is ignored.
-- ARGV, four per fire: id, the drift in ms, '1' if it failed (else '0'), the
-- error ('' when it did not fail: the last error is cleared).
for i = 1, #ARGV, 4 do
  local key = entry_key(ARGV[i])
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 'drift', ARGV[i + 1])
    if ARGV[i + 2] == '1' then
      redis.call('HSET', key, 'error', ARGV[i + 3])
    else
      redis.call('HDEL', key, 'error')
    end
  end
end
return 1
