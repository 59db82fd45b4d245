//! The Postgres rate limiter: one row per schedule holding its theoretical
//! arrival time, moved by one upsert on the database's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use stem::{RateLimiter, Result};

use super::{Shared, failed};

/// The longest interval the limiter schedules by, ten years in microseconds:
/// longer ones count as ten years, so that arrival times stay far from the
/// end of a `bigint`.
const MAX_INTERVAL_US: i64 = 10 * 365 * 24 * 3600 * 1_000_000;

/// How often one limiter deletes idle schedules, at most (ms).
const PRUNE_EVERY_MS: i64 = 60_000;

/// A [`RateLimiter`] on Postgres (table `rate_limits` of the store's schema):
/// one row per schedule, holding its theoretical arrival time in
/// microseconds, moved by one `INSERT ... ON CONFLICT DO UPDATE` timed by the
/// database's clock (`now()`), so that workers whose clocks differ share one
/// schedule.
///
/// A row whose time is past counts as no row. Idle rows are deleted by the
/// limiter itself rather than by the store's vacuum (which only vacuums the
/// queue tables as they churn): at most once a minute per limiter, after a
/// reservation, it deletes in the background the rows past by more than an
/// hour. Intervals longer than ten years count as ten years.
#[derive(Debug)]
pub struct PostgresRateLimiter {
    shared: Arc<Shared>,
    /// When this limiter last deleted idle rows (ms since the epoch, local clock).
    pruned_at: AtomicI64,
}

impl PostgresRateLimiter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared, pruned_at: AtomicI64::new(0) }
    }

    /// Deletes the rows idle for more than an hour, in the background, if this
    /// limiter has not for a minute.
    fn prune(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY_MS
            || self.pruned_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let pruned = sqlx::query(shared.sql(include_str!("sql/rate_prune.sql"))).execute(&shared.pool).await;
            if let Err(error) = pruned {
                tracing::warn!(%error, "deleting idle rate limit schedules failed; it is tried again later");
            }
        });
    }
}

#[async_trait]
impl RateLimiter for PostgresRateLimiter {
    /// # Cancel safety
    ///
    /// Dropping the future after the statement was sent may still take a slot.
    async fn reserve(&self, key: &str, interval: Duration, burst: u32) -> Result<Duration> {
        let interval = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX).min(MAX_INTERVAL_US);
        let span = interval.saturating_mul(i64::from(burst.max(1)));
        let wait: i64 = sqlx::query_scalar(self.shared.sql(include_str!("sql/rate_reserve.sql")))
            .bind(key)
            .bind(interval)
            .bind(span)
            .fetch_one(&self.shared.pool)
            .await
            .map_err(|e| failed("reserving a rate limit slot", e))?;
        self.prune();
        Ok(Duration::from_micros(wait.unsigned_abs()))
    }
}
