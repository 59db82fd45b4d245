-- Due delayed messages and expired leases become ready again. Parameter: now.
UPDATE stem_messages SET state = 0 WHERE state IN (1, 3) AND ready_at <= ?
