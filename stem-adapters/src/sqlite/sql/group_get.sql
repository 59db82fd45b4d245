-- A live group. Parameters: id, now.
SELECT expected, chord_callback FROM stem_groups WHERE id = ? AND expires_at > ?
