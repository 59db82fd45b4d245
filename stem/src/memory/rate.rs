//! The in-memory rate limiter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::Result;
use crate::rate::{RateLimiter, next_slot};

/// A [`RateLimiter`] in process memory: its schedules hold for the workers
/// of this process only.
#[derive(Debug)]
pub struct MemoryRateLimiter {
    start: Instant,
    /// Each key's theoretical arrival time, in microseconds since `start`.
    tats: Mutex<HashMap<String, i64>>,
}

impl MemoryRateLimiter {
    /// A limiter with no schedules.
    pub fn new() -> Self {
        Self { start: Instant::now(), tats: Mutex::default() }
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn reserve(&self, key: &str, interval: Duration, burst: u32) -> Result<Duration> {
        let now = i64::try_from(self.start.elapsed().as_micros()).unwrap_or(i64::MAX);
        let mut tats = self.tats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tats.len() > 4096 {
            tats.retain(|_, tat| *tat > now);
        }
        let (tat, wait) = next_slot(tats.get(key).copied(), now, interval, burst);
        tats.insert(key.to_owned(), tat);
        Ok(Duration::from_micros(wait.unsigned_abs()))
    }
}
