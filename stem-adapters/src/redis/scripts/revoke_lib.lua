-- Shared by the revoke scripts. KEYS[1] is the revoke key prefix
-- (stem:<ns>:revokes:{<ns>:revokes}:); under it `all` is a hash from task id
-- to its revoke (JSON), and `expiry` the same ids, scored by when their
-- revokes expire (microseconds since the epoch).
local P = KEYS[1]
local ALL, EXPIRY = P .. 'all', P .. 'expiry'
