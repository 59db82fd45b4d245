-- Makes a group expire at a time. Parameters: expiry, id.
UPDATE stem_groups SET expires_at = ? WHERE id = ?
