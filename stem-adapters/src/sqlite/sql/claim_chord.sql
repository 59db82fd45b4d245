-- Records a live group's chord callback unless one already is.
-- Parameters: callback id, group id, now. One row changed: claimed.
UPDATE stem_groups SET chord_callback = ? WHERE id = ? AND chord_callback IS NULL AND expires_at > ?
