-- Creates a group, or replaces one of the same id. Parameters: id, members
-- expected, expiry.
INSERT OR REPLACE INTO stem_groups (id, expected, chord_callback, expires_at) VALUES (?, ?, NULL, ?)
