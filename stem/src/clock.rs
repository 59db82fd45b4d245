//! Clocks: the time workflows (and, later, schedules) see. The system clock
//! by default; a [`FakeClock`] in tests, so that they advance time instead of
//! sleeping.

use std::fmt;
use std::sync::Mutex;
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
