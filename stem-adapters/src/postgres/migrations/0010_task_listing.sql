-- Listing task statuses by name and state (TaskListing): each row gets its
-- update time (microseconds since the epoch; filled from the JSON for the
-- rows already there). The indexes that make the listing fast are made only
-- by a store connected with `task_listing=true` (`sql/listing_on.sql`): they
-- cost every status write.
ALTER TABLE {schema}.tasks ADD COLUMN IF NOT EXISTS updated_at bigint NOT NULL DEFAULT 0;
UPDATE {schema}.tasks
SET updated_at = coalesce((extract(epoch FROM (status::json ->> 'updated_at')::timestamptz) * 1000000)::bigint, 0);
