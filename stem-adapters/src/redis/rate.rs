//! The Redis rate limiter: one key per schedule holding its theoretical
//! arrival time, moved by one script on Redis's clock.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stem::{RateLimiter, Result};

use super::scripts::RATE_RESERVE;
use super::{MAX_MILLIS, Shared, failed};

/// A [`RateLimiter`] on Redis: one key per schedule (`stem:<namespace>:rate:<key>`),
/// holding its theoretical arrival time in microseconds and expiring just
/// after it, so that an idle schedule leaves nothing behind. Each call is one
/// script on one key (fine on a Redis Cluster), timed by the server's clock,
/// so workers whose clocks differ share one schedule.
///
/// Intervals longer than ten years count as ten years, so that times stay
/// exact in Lua's numbers.
#[derive(Debug)]
pub struct RedisRateLimiter {
    shared: Arc<Shared>,
}

impl RedisRateLimiter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    /// # Cancel safety
    ///
    /// Dropping the future after the script was sent may still take a slot.
    async fn reserve(&self, key: &str, interval: Duration, burst: u32) -> Result<Duration> {
        let micros = u64::try_from(interval.as_micros()).unwrap_or(u64::MAX).min(MAX_MILLIS * 1000);
        let wait: i64 = RATE_RESERVE
            .script()
            .key(self.shared.keys().rate(key))
            .arg(micros)
            .arg(burst.max(1))
            .invoke_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reserving a rate limit slot", e))?;
        Ok(Duration::from_micros(wait.unsigned_abs()))
    }
}
