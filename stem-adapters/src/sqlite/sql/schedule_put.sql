-- Puts a schedule: new, or replacing the definition, `enabled` and next fire
-- of the one with its id (its counts, last fire, drift and error are kept).
-- ?1 id, ?2 the entry (JSON), ?3 enabled (1 or 0), ?4 the next fire (µs, NULL: none).
INSERT INTO stem_schedules (id, entry, enabled, next_fire) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (id) DO UPDATE SET entry = excluded.entry, enabled = excluded.enabled, next_fire = excluded.next_fire
