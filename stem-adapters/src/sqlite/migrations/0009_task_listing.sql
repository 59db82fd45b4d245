-- Stem's SQLite schema, version 9: listing task statuses by name and state
-- (TaskListing). Each status row gets its task name, state and update time
-- (microseconds since the epoch) as columns, filled from the JSON for the
-- rows already there (to the millisecond: a page's cursor is read from the
-- column, so the order holds). The indexes that make the listing fast are
-- made only by a store opened with `task_listing=true` (`listing.sql`):
-- they cost every status write.
ALTER TABLE stem_task_status ADD COLUMN task TEXT NOT NULL DEFAULT '';
ALTER TABLE stem_task_status ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE stem_task_status ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE stem_task_status
SET task = coalesce(json_extract(status, '$.task'), ''),
    state = coalesce(json_extract(status, '$.state'), ''),
    updated_at = coalesce(
        CAST(round((julianday(json_extract(status, '$.updated_at')) - 2440587.5) * 86400000000.0) AS INTEGER), 0);
