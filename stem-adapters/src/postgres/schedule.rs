//! The Postgres schedule store: one row per schedule (table `schedules`, see
//! `migrations/0008_schedules.sql`), its entry as JSON beside its state,
//! with a batch of claims or records in one statement (`sql/schedule_*.sql`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use stem::beat::{Claim, Fired, ScheduleEntry, ScheduleStore};
use stem::{Error, Result};

use super::{Shared, failed, from_json, to_json};

/// A [`ScheduleStore`] on Postgres (table `schedules` of the store's schema):
/// one row per schedule, holding its entry as JSON and its state (enabled,
/// next and last fire, runs, skipped, last drift and error) in columns of
/// their own, which override the JSON's.
///
/// A batch of claims is one statement, which locks the schedules in id order
/// and moves each whose next fire is still the claimed one, so that of
/// racing schedulers exactly one wins each fire and overlapping batches never
/// deadlock; a batch of records is one statement too. Fire times are kept to
/// the microsecond: a claim wins if the schedule's next fire, to the
/// microsecond, is the claimed one.
#[derive(Debug)]
pub struct PostgresScheduleStore {
    shared: Arc<Shared>,
}

impl PostgresScheduleStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The entries of `rows`, read for `what`.
    fn entries(rows: std::result::Result<Vec<PgRow>, sqlx::Error>, what: &str) -> Result<Vec<ScheduleEntry>> {
        rows.map_err(|e| failed(what, e))?.iter().map(entry_from).collect()
    }
}

/// Microseconds since the epoch, as the table keeps fires.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A stored fire (µs) as a time.
fn time(us: Option<i64>, name: &str) -> Result<Option<DateTime<Utc>>> {
    us.map(|us| {
        DateTime::from_timestamp_micros(us).ok_or_else(|| {
            Error::adapter(
                format!("a stored schedule's `{name}` in Postgres is not a time"),
                format!("{us} µs since the epoch is out of range"),
            )
        })
    })
    .transpose()
}

/// A stored count (never negative unless written by hand).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A count for a `bigint` column.
fn bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A schedule from a row of `sql/schedule_get.sql` (or list, or due): its
/// entry's JSON, overridden by the state columns.
fn entry_from(row: &PgRow) -> Result<ScheduleEntry> {
    let get = |e| failed("reading a schedule", e);
    let json: String = row.try_get("entry").map_err(get)?;
    let mut entry: ScheduleEntry = from_json(&json, "schedule")?;
    entry.enabled = row.try_get("enabled").map_err(get)?;
    entry.next_fire = time(row.try_get("next_fire").map_err(get)?, "next_fire")?;
    entry.last_fire = time(row.try_get("last_fire").map_err(get)?, "last_fire")?;
    entry.runs = count(row.try_get("runs").map_err(get)?);
    entry.skipped = count(row.try_get("skipped").map_err(get)?);
    entry.last_drift_ms = row.try_get("last_drift_ms").map_err(get)?;
    entry.last_error = row.try_get("last_error").map_err(get)?;
    Ok(entry)
}

/// `claims` in rounds with no id twice, each in the order given: the first
/// claim of each id, then the second of those claimed twice, and so on. Run
/// one after another, the rounds do what the claims one by one would.
fn rounds(claims: &[Claim]) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, claim) in claims.iter().enumerate() {
        let round = seen.entry(&claim.id).and_modify(|n| *n += 1).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(i);
    }
    rounds
}

#[async_trait]
impl ScheduleStore for PostgresScheduleStore {
    async fn put(&self, entry: &ScheduleEntry) -> Result<()> {
        sqlx::query(self.shared.sql(include_str!("sql/schedule_put.sql")))
            .bind(&entry.id)
            .bind(to_json(entry)?)
            .bind(entry.enabled)
            .bind(entry.next_fire.map(micros))
            .execute(&self.shared.pool)
            .await
            .map(drop)
            .map_err(|e| failed("putting a schedule", e))
    }

    async fn get(&self, id: &str) -> Result<Option<ScheduleEntry>> {
        let row = sqlx::query(self.shared.sql(include_str!("sql/schedule_get.sql")))
            .bind(id)
            .fetch_optional(&self.shared.pool)
            .await
            .map_err(|e| failed("reading a schedule", e))?;
        row.as_ref().map(entry_from).transpose()
    }

    async fn list(&self) -> Result<Vec<ScheduleEntry>> {
        let rows =
            sqlx::query(self.shared.sql(include_str!("sql/schedule_list.sql"))).fetch_all(&self.shared.pool).await;
        Self::entries(rows, "listing the schedules")
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(self.shared.sql(include_str!("sql/schedule_remove.sql")))
            .bind(id)
            .execute(&self.shared.pool)
            .await
            .map_err(|e| failed("removing a schedule", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_enabled(&self, id: &str, enabled: bool, next_fire: Option<DateTime<Utc>>) -> Result<bool> {
        let done = sqlx::query(self.shared.sql(include_str!("sql/schedule_enable.sql")))
            .bind(id)
            .bind(enabled)
            .bind(next_fire.map(micros))
            .execute(&self.shared.pool)
            .await
            .map_err(|e| failed("enabling or disabling a schedule", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ScheduleEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query(self.shared.sql(include_str!("sql/schedule_due.sql")))
            .bind(micros(now))
            .bind(limit)
            .fetch_all(&self.shared.pool)
            .await;
        Self::entries(rows, "listing due schedules")
    }

    /// One statement per batch (per round when a batch claims one schedule
    /// more than once, each round its own statement).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after a statement was sent may still claim its
    /// fires (the answers are then lost).
    async fn claim(&self, claims: &[Claim]) -> Result<Vec<bool>> {
        let mut won = vec![false; claims.len()];
        for round in rounds(claims) {
            let batch: Vec<&Claim> = round.iter().map(|&i| &claims[i]).collect();
            let ids: Vec<&str> = batch.iter().map(|c| c.id.as_str()).collect();
            let fires: Vec<i64> = batch.iter().map(|c| micros(c.fire)).collect();
            let nexts: Vec<Option<i64>> = batch.iter().map(|c| c.next.map(micros)).collect();
            let enqueued: Vec<i64> = batch.iter().map(|c| bigint(c.enqueued)).collect();
            let skipped: Vec<i64> = batch.iter().map(|c| bigint(c.skipped)).collect();
            let lasts: Vec<i64> = batch.iter().map(|c| micros(c.last)).collect();
            let positions: Vec<i64> = sqlx::query_scalar(self.shared.sql(include_str!("sql/schedule_claim.sql")))
                .bind(ids)
                .bind(fires)
                .bind(nexts)
                .bind(enqueued)
                .bind(skipped)
                .bind(lasts)
                .fetch_all(&self.shared.pool)
                .await
                .map_err(|e| failed("claiming schedule fires", e))?;
            for n in positions {
                let claim = usize::try_from(n - 1).ok().and_then(|k| round.get(k));
                if let Some(&i) = claim {
                    won[i] = true;
                }
            }
        }
        Ok(won)
    }

    /// One statement per batch; of two fires of one schedule, the later in
    /// `fired` is recorded.
    async fn record(&self, fired: &[Fired]) -> Result<()> {
        if fired.is_empty() {
            return Ok(());
        }
        let last: HashMap<&str, &Fired> = fired.iter().map(|f| (f.id.as_str(), f)).collect();
        let ids: Vec<&str> = last.keys().copied().collect();
        let drifts: Vec<i64> = ids.iter().map(|id| last[id].drift_ms).collect();
        let errors: Vec<Option<&str>> = ids.iter().map(|id| last[id].error.as_deref()).collect();
        sqlx::query(self.shared.sql(include_str!("sql/schedule_record.sql")))
            .bind(ids)
            .bind(drifts)
            .bind(errors)
            .execute(&self.shared.pool)
            .await
            .map(drop)
            .map_err(|e| failed("recording schedule fires", e))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use stem::beat::Claim;

    use super::rounds;

    fn claim(id: &str) -> Claim {
        let fire = Utc::now();
        Claim { id: id.to_owned(), fire, last: fire, next: None, enqueued: 1, skipped: 0 }
    }

    #[test]
    fn a_batch_claiming_one_schedule_twice_is_split_into_rounds_in_order() {
        let claims = [claim("a"), claim("b"), claim("a"), claim("c"), claim("a")];
        assert_eq!(rounds(&claims), [vec![0, 1, 3], vec![2], vec![4]]);
        assert_eq!(rounds(&[]), Vec::<Vec<usize>>::new());
    }
}
