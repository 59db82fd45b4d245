//! The SQLite schedule store: one row per schedule (table `stem_schedules`,
//! see `migrations/0007_schedules.sql`), its entry as JSON beside its state.
//! A batch of claims or records is one call on the writing thread, so one
//! write transaction; the SQL is in `sql/schedule_*.sql`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use stem::beat::{Claim, Fired, ScheduleEntry, ScheduleStore};
use stem::{Error, Result};

use super::{Shared, conversion_error};

/// A [`ScheduleStore`] on a SQLite file (table `stem_schedules`), shared by
/// every process using the file: one row per schedule, holding its entry as
/// JSON and its state (enabled, next and last fire, runs, skipped, last
/// drift and error) in columns of their own, which override the JSON's.
///
/// Writes run on the file's writing thread, one at a time, so a claim's
/// compare-and-set of the next fire is atomic; a batch of claims (or of
/// records) is one call, committed in one transaction. Fire times are kept
/// to the microsecond: a claim wins if the schedule's next fire, to the
/// microsecond, is the claimed one.
#[derive(Debug)]
pub struct SqliteScheduleStore {
    shared: Arc<Shared>,
}

impl SqliteScheduleStore {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// Microseconds since the epoch, as the table keeps fires.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A stored fire (µs) in column `column` as a time.
fn time(us: Option<i64>, column: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    us.map(|us| DateTime::from_timestamp_micros(us).ok_or(rusqlite::Error::IntegralValueOutOfRange(column, us)))
        .transpose()
}

/// A stored count (never negative unless written by hand).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A count for an integer column.
fn integer(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A schedule from a row of `sql/schedule_get.sql` (or list, or due): its
/// entry's JSON, overridden by the state columns.
fn read_entry(r: &Row<'_>) -> rusqlite::Result<ScheduleEntry> {
    let mut entry: ScheduleEntry = serde_json::from_str(&r.get::<_, String>(0)?).map_err(conversion_error)?;
    entry.enabled = r.get::<_, i64>(1)? == 1;
    entry.next_fire = time(r.get(2)?, 2)?;
    entry.last_fire = time(r.get(3)?, 3)?;
    entry.runs = count(r.get(4)?);
    entry.skipped = count(r.get(5)?);
    entry.last_drift_ms = r.get(6)?;
    entry.last_error = r.get(7)?;
    Ok(entry)
}

#[async_trait]
impl ScheduleStore for SqliteScheduleStore {
    async fn put(&self, entry: &ScheduleEntry) -> Result<()> {
        let json = serde_json::to_string(entry).map_err(|e| Error::adapter("cannot encode a schedule", e))?;
        let (id, enabled, next) = (entry.id.clone(), i64::from(entry.enabled), entry.next_fire.map(micros));
        self.shared
            .db
            .call("put schedule", move |conn| {
                conn.prepare_cached(include_str!("sql/schedule_put.sql"))?.execute(params![id, json, enabled, next])
            })
            .await
            .map(drop)
    }

    async fn get(&self, id: &str) -> Result<Option<ScheduleEntry>> {
        let id = id.to_owned();
        self.shared
            .db
            .read("get schedule", move |conn| {
                conn.prepare_cached(include_str!("sql/schedule_get.sql"))?.query_row([id], read_entry).optional()
            })
            .await
    }

    async fn list(&self) -> Result<Vec<ScheduleEntry>> {
        self.shared
            .db
            .read("list schedules", |conn| {
                conn.prepare_cached(include_str!("sql/schedule_list.sql"))?.query_map([], read_entry)?.collect()
            })
            .await
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.shared
            .db
            .call("remove schedule", move |conn| {
                Ok(conn.prepare_cached(include_str!("sql/schedule_remove.sql"))?.execute([id])? == 1)
            })
            .await
    }

    async fn set_enabled(&self, id: &str, enabled: bool, next_fire: Option<DateTime<Utc>>) -> Result<bool> {
        let (id, enabled, next) = (id.to_owned(), i64::from(enabled), next_fire.map(micros));
        self.shared
            .db
            .call("enable schedule", move |conn| {
                Ok(conn.prepare_cached(include_str!("sql/schedule_enable.sql"))?.execute(params![id, enabled, next])?
                    == 1)
            })
            .await
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ScheduleEntry>> {
        let (now, limit) = (micros(now), i64::try_from(limit).unwrap_or(i64::MAX));
        self.shared
            .db
            .read("list due schedules", move |conn| {
                conn.prepare_cached(include_str!("sql/schedule_due.sql"))?
                    .query_map(params![now, limit], read_entry)?
                    .collect()
            })
            .await
    }

    /// One call on the writing thread for the whole batch: one transaction.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the call was queued may still claim the
    /// fires (the answers are then lost).
    async fn claim(&self, claims: &[Claim]) -> Result<Vec<bool>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let claims: Vec<(String, i64, Option<i64>, i64, i64, i64)> = claims
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    micros(c.fire),
                    c.next.map(micros),
                    integer(c.enqueued),
                    integer(c.skipped),
                    micros(c.last),
                )
            })
            .collect();
        self.shared
            .db
            .call("claim schedule fires", move |conn| {
                let mut claim = conn.prepare_cached(include_str!("sql/schedule_claim.sql"))?;
                claims
                    .iter()
                    .map(|(id, fire, next, enqueued, skipped, last)| {
                        Ok(claim.execute(params![id, fire, next, enqueued, skipped, last])? == 1)
                    })
                    .collect()
            })
            .await
    }

    /// One call on the writing thread for the whole batch: one transaction.
    async fn record(&self, fired: &[Fired]) -> Result<()> {
        if fired.is_empty() {
            return Ok(());
        }
        let fired: Vec<(String, i64, Option<String>)> =
            fired.iter().map(|f| (f.id.clone(), f.drift_ms, f.error.clone())).collect();
        self.shared
            .db
            .call("record schedule fires", move |conn| {
                let mut record = conn.prepare_cached(include_str!("sql/schedule_record.sql"))?;
                for (id, drift_ms, error) in &fired {
                    record.execute(params![id, drift_ms, error])?;
                }
                Ok(())
            })
            .await
    }
}
