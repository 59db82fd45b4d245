use std::time::Duration;

use crate::envelope::DEFAULT_QUEUE;
use crate::rate::Rate;

/// A task's defaults, fixed at compile time by `#[stem::task(...)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskOptions {
    /// The queue calls go to unless they name another.
    pub queue: &'static str,
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// How long to wait between attempts.
    pub retry: RetryPolicy,
    /// The run is aborted after this long (a failed attempt).
    pub time_limit: Option<Duration>,
    /// The task's context reports the limit reached after this long.
    pub soft_time_limit: Option<Duration>,
    /// The lease a delivery gets; a worker renews it while the task runs.
    pub visibility_timeout: Option<Duration>,
    /// 0 (default, lowest) to 9.
    pub priority: u8,
    /// At most this many runs per period across every worker of the store
    /// (see [`crate::rate`]); a delivery over the rate waits for its slot
    /// without using a retry.
    pub rate_limit: Option<Rate>,
    /// The header whose value splits the rate limit: one schedule per value
    /// (per tenant, say); deliveries without the header share the task's.
    pub rate_limit_key: Option<&'static str>,
    /// A second enqueue of the same call (same arguments, or the same
    /// `unique_key`) within this time returns the first one's handle instead
    /// of enqueuing (see [`crate::task::unique`]).
    pub unique_for: Option<Duration>,
    /// Whether the unique window ends when the first task finishes (the
    /// default) rather than only when `unique_for` has passed.
    pub unique_until_finished: bool,
    /// The schedule the task declares (`schedule = "every 1h"`; see
    /// [`crate::beat::Schedule`]): put under the task's name by a scheduler.
    pub schedule: Option<&'static str>,
    /// Whether a run that does not end at its first poll records a `started`
    /// status (on by default; Celery's `track_started`). Off for tasks nobody
    /// follows while they run, such as a workflow's executions (whose run
    /// has a status of its own): one status write fewer per run.
    pub track_started: bool,
    /// Whether a successful run records nothing (Celery's `ignore_result`;
    /// off by default): no status (not even `started`), no result, only the
    /// ack, and its enqueue writes no queued record, so the task is not
    /// listed while it waits. For work whose success nobody reads, such as a
    /// workflow's executions (the run keeps its own result): status writes
    /// fewer per run. A failure, a retry or a dead letter is still recorded;
    /// a success that something follows up (a canvas's next step, a unique
    /// window, an extension watching it) is recorded as usual, and so is a
    /// success after an earlier delivery or attempt (over the status that
    /// one left). A handle's `wait` on such a task sees no success. The
    /// typed enqueue marks its messages with
    /// [`IGNORE_RESULT_HEADER`](crate::envelope::IGNORE_RESULT_HEADER); a
    /// message enqueued by hand without it is recorded like any other.
    pub ignore_result: bool,
}

impl TaskOptions {
    /// The defaults: queue `default`, 3 retries with exponential backoff, no limits.
    pub const DEFAULT: Self = Self {
        queue: DEFAULT_QUEUE,
        max_retries: 3,
        retry: RetryPolicy::DEFAULT,
        time_limit: None,
        soft_time_limit: None,
        visibility_timeout: None,
        priority: 0,
        rate_limit: None,
        rate_limit_key: None,
        unique_for: None,
        unique_until_finished: true,
        schedule: None,
        track_started: true,
        ignore_result: false,
    };
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Exponential backoff with full jitter: attempt `n` (0-based) waits a random time
/// between half and all of `min(backoff * 2^n, backoff_max)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first delay.
    pub backoff: Duration,
    /// The longest delay.
    pub backoff_max: Duration,
    /// Whether to randomize delays (so retries of many tasks spread out).
    pub jitter: bool,
}

impl RetryPolicy {
    /// 1 s doubling up to 10 min, with jitter.
    pub const DEFAULT: Self =
        Self { backoff: Duration::from_secs(1), backoff_max: Duration::from_secs(600), jitter: true };

    /// The delay before the retry that follows failed attempt `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(31));
        let full = self.backoff.saturating_mul(factor).min(self.backoff_max);
        if self.jitter && !full.is_zero() { full / 2 + full.mul_f64(fastrand::f64() / 2.0) } else { full }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy { backoff: Duration::from_secs(1), backoff_max: Duration::from_secs(10), jitter: false };
        let delays: Vec<u64> = (0..6).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn jitter_stays_between_half_and_full() {
        let p = RetryPolicy { jitter: true, ..RetryPolicy::DEFAULT };
        for _ in 0..1000 {
            let d = p.delay(3);
            assert!(d >= Duration::from_secs(4) && d <= Duration::from_secs(8), "{d:?}");
        }
    }
}
