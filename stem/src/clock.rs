//! Clocks: the time workflows (and, later, schedules) see. The system clock
//! by default; a [`FakeClock`] in tests, so that they advance time instead of
//! sleeping.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

/// Where workflow timers, deadlines and `wf.now()` read the time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Notified when the time jumps (a fake clock advanced), so that timers look
    /// again at once; `None` for a clock that only moves on its own.
    fn jumps(&self) -> Option<&Notify> {
        None
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to: for tests of sleeps, deadlines and
/// cancellation policies that must not wait for real time to pass.
///
/// ```
/// use std::time::Duration;
/// use stem::clock::{Clock, FakeClock};
///
/// let clock = FakeClock::new();
/// let before = clock.now();
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!((clock.now() - before).num_seconds(), 3600);
/// ```
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<DateTime<Utc>>,
    jumps: Notify,
}

impl FakeClock {
    /// A clock standing at the current system time.
    pub fn new() -> Self {
        Self::at(Utc::now())
    }

    /// A clock standing at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(now), jumps: Notify::new() }
    }

    /// Moves the clock forward by `by` and wakes the timers.
    pub fn advance(&self, by: Duration) {
        {
            let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *now = after(*now, by);
        }
        self.jumps.notify_waiters();
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn jumps(&self) -> Option<&Notify> {
        Some(&self.jumps)
    }
}

/// `at + by`, saturating.
pub(crate) fn after(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_add_signed(chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at - by`, saturating.
pub(crate) fn before(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_sub_signed(chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Differences between a clock and the store's under this are taken as none:
/// they are within what one round trip can measure, far below any lease, and
/// a fake clock made just before keeps its exact readings.
const SKEW_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::milliseconds(250);

/// How far the store's clock is ahead of a Stem's clock, as last measured
/// (see `Stem::sync_clock`).
#[derive(Debug, Default)]
pub(crate) struct Skew {
    micros: AtomicI64,
    measured: AtomicBool,
}

impl Skew {
    /// `at` moved onto the store's clock.
    pub(crate) fn apply(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let micros = self.micros.load(Ordering::Relaxed);
        at.checked_add_signed(chrono::TimeDelta::microseconds(micros)).unwrap_or(at)
    }

    /// Whether it has been measured once.
    pub(crate) fn is_measured(&self) -> bool {
        self.measured.load(Ordering::Acquire)
    }

    /// Records a measurement: the store read `store` while the clock read
    /// from `before` to `after`. Returns the skew kept, and whether it
    /// changed by more than the tolerance since the last measurement.
    pub(crate) fn record(
        &self,
        before: DateTime<Utc>,
        store: DateTime<Utc>,
        after: DateTime<Utc>,
    ) -> (chrono::TimeDelta, bool) {
        let local = before + (after - before) / 2;
        let mut skew = store - local;
        if skew.abs() < SKEW_TOLERANCE {
            skew = chrono::TimeDelta::zero();
        }
        let micros =
            skew.num_microseconds().unwrap_or(if skew < chrono::TimeDelta::zero() { i64::MIN } else { i64::MAX });
        let previous = self.micros.swap(micros, Ordering::Relaxed);
        let first = !self.measured.swap(true, Ordering::AcqRel);
        let moved = chrono::TimeDelta::microseconds(micros.saturating_sub(previous)).abs() >= SKEW_TOLERANCE;
        (skew, first && !skew.is_zero() || moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skew_is_measured_from_the_middle_of_the_round_trip_and_small_ones_are_none() {
        let skew = Skew::default();
        let t = Utc::now();
        let (kept, news) = skew.record(t, t + chrono::TimeDelta::minutes(10), t + chrono::TimeDelta::seconds(2));
        assert_eq!(kept, chrono::TimeDelta::minutes(10) - chrono::TimeDelta::seconds(1));
        assert!(news && skew.is_measured());
        assert_eq!(skew.apply(t), t + kept);
        let (again, news) = skew.record(t, t + chrono::TimeDelta::minutes(10), t + chrono::TimeDelta::seconds(2));
        assert_eq!((again, news), (kept, false), "the same skew again is no news");
        let (none, news) = skew.record(t, t + chrono::TimeDelta::milliseconds(100), t);
        assert!(none.is_zero() && news, "a skew within the tolerance is none, and the change is news");
        assert_eq!(skew.apply(t), t);
    }
}
