//! The SQLite revoke store: one row per revoked task (table `stem_revokes`,
//! see `migrations/0008_revokes.sql`), its revoke as JSON beside its expiry.
//! A batch of revokes is one call on the writing thread, so one write
//! transaction; the SQL is in `sql/revoke_*.sql`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use stem::revoke::{Revoke, RevokeStore};
use stem::{Error, Result, TaskId};

use super::{Shared, conversion_error};

/// A [`RevokeStore`] on a SQLite file (table `stem_revokes`), shared by every
/// process using the file: one row per revoked task, holding its revoke as
/// JSON and when it expires, in microseconds since the epoch, in a column of
/// its own for the queries.
///
/// Writes run on the file's writing thread, one at a time; a batch of
/// revokes is one call, committed in one transaction (of two revokes of one
/// id in a batch, the later is put). Expiries are compared to the
/// microsecond: a revoke holds at `now` if it expires after `now`, both cut
/// to the microsecond.
#[derive(Debug)]
pub struct SqliteRevokeStore {
    shared: Arc<Shared>,
}

impl SqliteRevokeStore {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// Microseconds since the epoch, as the table keeps expiries.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A revoke from a row of `sql/revoke_get.sql` (or live): its JSON.
fn read_revoke(r: &Row<'_>) -> rusqlite::Result<Revoke> {
    serde_json::from_str(&r.get::<_, String>(0)?).map_err(conversion_error)
}

#[async_trait]
impl RevokeStore for SqliteRevokeStore {
    /// One call on the writing thread for the whole batch: one transaction.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the call was queued may still put the revokes.
    async fn put(&self, revokes: &[Revoke]) -> Result<()> {
        if revokes.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, String, i64)> = revokes
            .iter()
            .map(|r| {
                let json = serde_json::to_string(r).map_err(|e| Error::adapter("cannot encode a revoke", e))?;
                Ok((r.id.to_string(), json, micros(r.expires)))
            })
            .collect::<Result<_>>()?;
        self.shared
            .db
            .call("put revokes", move |conn| {
                let mut put = conn.prepare_cached(include_str!("sql/revoke_put.sql"))?;
                for (id, json, expires) in &rows {
                    put.execute(params![id, json, expires])?;
                }
                Ok(())
            })
            .await
    }

    async fn live(&self, now: DateTime<Utc>) -> Result<Vec<Revoke>> {
        let now = micros(now);
        self.shared
            .db
            .read("list revokes", move |conn| {
                conn.prepare_cached(include_str!("sql/revoke_live.sql"))?.query_map([now], read_revoke)?.collect()
            })
            .await
    }

    async fn is_revoked(&self, id: TaskId, now: DateTime<Utc>) -> Result<Option<Revoke>> {
        let (id, now) = (id.to_string(), micros(now));
        self.shared
            .db
            .read("get revoke", move |conn| {
                conn.prepare_cached(include_str!("sql/revoke_get.sql"))?
                    .query_row(params![id, now], read_revoke)
                    .optional()
            })
            .await
    }

    async fn remove(&self, id: TaskId) -> Result<bool> {
        let id = id.to_string();
        self.shared
            .db
            .call("remove revoke", move |conn| {
                Ok(conn.prepare_cached(include_str!("sql/revoke_remove.sql"))?.execute([id])? == 1)
            })
            .await
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<u64> {
        let now = micros(now);
        let pruned = self
            .shared
            .db
            .call("prune revokes", move |conn| {
                conn.prepare_cached(include_str!("sql/revoke_prune.sql"))?.execute([now])
            })
            .await?;
        Ok(u64::try_from(pruned).unwrap_or(u64::MAX))
    }
}
