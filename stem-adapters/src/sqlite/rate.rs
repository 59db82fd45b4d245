//! The SQLite rate limiter: one row per schedule holding its theoretical
//! arrival time, moved by one upsert on the writing connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;
use stem::{RateLimiter, Result};

use super::{Shared, now_us};

/// The longest interval the limiter schedules by, ten years in microseconds:
/// longer ones count as ten years, so that arrival times stay far from the
/// end of an integer.
const MAX_INTERVAL_US: i64 = 10 * 365 * 24 * 3600 * 1_000_000;

/// How long a schedule stays idle before it is deleted (microseconds).
const IDLE_US: i64 = 3600 * 1_000_000;

/// How often one limiter deletes idle schedules, at most (microseconds).
const PRUNE_EVERY_US: i64 = 60 * 1_000_000;

/// A [`RateLimiter`] on a SQLite file (table `stem_rate_limits`): one row per
/// schedule, holding its theoretical arrival time in microseconds, moved by
/// one upsert in the writing thread's transaction, so that every process
/// using the file shares one schedule. Times are this host's clock (every
/// process using a file is on one host).
///
/// A row whose time is past counts as no row. At most once a minute per
/// limiter, a reservation also deletes the rows past by more than an hour.
/// Intervals longer than ten years count as ten years.
#[derive(Debug)]
pub struct SqliteRateLimiter {
    shared: Arc<Shared>,
    /// When this limiter last deleted idle rows (microseconds since the epoch).
    pruned_at: Arc<AtomicI64>,
}

impl SqliteRateLimiter {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, pruned_at: Arc::new(AtomicI64::new(0)) }
    }
}

#[async_trait]
impl RateLimiter for SqliteRateLimiter {
    /// # Cancel safety
    ///
    /// Dropping the future after the call was queued may still take a slot.
    async fn reserve(&self, key: &str, interval: Duration, burst: u32) -> Result<Duration> {
        let key = key.to_owned();
        let interval = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX).min(MAX_INTERVAL_US);
        let span = interval.saturating_mul(i64::from(burst.max(1)));
        let pruned_at = Arc::clone(&self.pruned_at);
        let wait: i64 = self
            .shared
            .db
            .call("reserve rate limit slot", move |conn| {
                // The clock is read when the write runs, not when it was queued.
                let now = now_us();
                let last = pruned_at.load(Ordering::Relaxed);
                if now - last >= PRUNE_EVERY_US {
                    pruned_at.store(now, Ordering::Relaxed);
                    conn.prepare_cached(include_str!("sql/rate_prune.sql"))?.execute([now - IDLE_US])?;
                }
                conn.prepare_cached(include_str!("sql/rate_reserve.sql"))?
                    .query_row(params![key, now, interval, span], |r| r.get(0))
            })
            .await?;
        Ok(Duration::from_micros(wait.unsigned_abs()))
    }
}
