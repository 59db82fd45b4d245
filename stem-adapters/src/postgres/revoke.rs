//! The Postgres revoke store: one row per revoked task (table `revokes`, see
//! `migrations/0009_revokes.sql`), its revoke as JSON beside its expiry, with
//! a batch of revokes in one statement (`sql/revoke_*.sql`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stem::revoke::{Revoke, RevokeStore};
use stem::{Result, TaskId};
use uuid::Uuid;

use super::{Shared, failed, from_json, to_json};

/// A [`RevokeStore`] on Postgres (table `revokes` of the store's schema): one
/// row per revoked task, holding its revoke as JSON and when it expires, in
/// microseconds since the epoch, in a column of its own for the queries.
///
/// A batch of revokes is one statement, which writes the rows in id order,
/// so that overlapping batches never deadlock; of two revokes of one id in a
/// batch, the later is put. Expiries are compared to the microsecond: a
/// revoke holds at `now` if it expires after `now`, both cut to the
/// microsecond.
#[derive(Debug)]
pub struct PostgresRevokeStore {
    shared: Arc<Shared>,
}

impl PostgresRevokeStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// Microseconds since the epoch, as the table keeps expiries.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

#[async_trait]
impl RevokeStore for PostgresRevokeStore {
    /// One statement for the whole batch.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the statement was sent may still put the
    /// revokes.
    async fn put(&self, revokes: &[Revoke]) -> Result<()> {
        if revokes.is_empty() {
            return Ok(());
        }
        // The last revoke of each id, by id (one statement may not write a row twice).
        let last: BTreeMap<TaskId, &Revoke> = revokes.iter().map(|r| (r.id, r)).collect();
        let ids: Vec<Uuid> = last.keys().map(|id| *id.as_uuid()).collect();
        let json: Vec<String> = last.values().map(to_json).collect::<Result<_>>()?;
        let expires: Vec<i64> = last.values().map(|r| micros(r.expires)).collect();
        sqlx::query(self.shared.sql(include_str!("sql/revoke_put.sql")))
            .bind(ids)
            .bind(json)
            .bind(expires)
            .execute(&self.shared.pool)
            .await
            .map(drop)
            .map_err(|e| failed("putting revokes", e))
    }

    async fn live(&self, now: DateTime<Utc>) -> Result<Vec<Revoke>> {
        let stored: Vec<String> = sqlx::query_scalar(self.shared.sql(include_str!("sql/revoke_live.sql")))
            .bind(micros(now))
            .fetch_all(&self.shared.pool)
            .await
            .map_err(|e| failed("listing the revokes", e))?;
        stored.iter().map(|json| from_json(json, "revoke")).collect()
    }

    async fn is_revoked(&self, id: TaskId, now: DateTime<Utc>) -> Result<Option<Revoke>> {
        let stored: Option<String> = sqlx::query_scalar(self.shared.sql(include_str!("sql/revoke_get.sql")))
            .bind(id.as_uuid())
            .bind(micros(now))
            .fetch_optional(&self.shared.pool)
            .await
            .map_err(|e| failed("reading a revoke", e))?;
        stored.map(|json| from_json(&json, "revoke")).transpose()
    }

    async fn remove(&self, id: TaskId) -> Result<bool> {
        let done = sqlx::query(self.shared.sql(include_str!("sql/revoke_remove.sql")))
            .bind(id.as_uuid())
            .execute(&self.shared.pool)
            .await
            .map_err(|e| failed("removing a revoke", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(self.shared.sql(include_str!("sql/revoke_prune.sql")))
            .bind(micros(now))
            .execute(&self.shared.pool)
            .await
            .map_err(|e| failed("pruning expired revokes", e))?;
        Ok(done.rows_affected())
    }
}
