-- Creates a group with no member counted, or replaces one of the same id.
-- Parameters: id, members expected, expiry.
INSERT OR REPLACE INTO stem_groups (id, expected, done, chord_callback, expires_at) VALUES (?, ?, 0, NULL, ?)
