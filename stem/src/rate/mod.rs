//! Rate limits held across every worker of a store: [`Rate`] (what
//! `rate_limit = "100/s"` says) and the [`RateLimiter`] contract the stores
//! implement.
//!
//! The limiter hands out slots rather than yes / no answers (the generic cell
//! rate algorithm): each call reserves the next slot of a key's schedule,
//! spaced one interval apart, and says how long from now it starts. A worker
//! whose slot is in the future puts the delivery back until then (marked as
//! holding its slot, so that it does not ask again), so a backlog of limited
//! tasks costs one reservation and at most one deferral each, and no worker
//! polls the limiter or holds a concurrency slot while it waits. The
//! schedule's time is the store's clock, so workers whose clocks differ
//! still share one schedule.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, Result};

/// A rate: `count` per `per` (`"100/s"`, `"10/m"`, `"500/h"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// How many per period.
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl Rate {
    /// `count` per second.
    pub const fn per_second(count: u32) -> Self {
        Self { count, per: Duration::from_secs(1) }
    }

    /// `count` per minute.
    pub const fn per_minute(count: u32) -> Self {
        Self { count, per: Duration::from_secs(60) }
    }

    /// `count` per hour.
    pub const fn per_hour(count: u32) -> Self {
        Self { count, per: Duration::from_secs(3600) }
    }

    /// The time between two slots (`per / count`; the whole period for a count of zero).
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            3600 => "h",
            _ => return write!(f, "{}/{}ms", self.count, self.per.as_millis()),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl FromStr for Rate {
    type Err = Error;

    /// Parses `N/s`, `N/m` or `N/h` (also `sec`, `min`, `hour`), N at least 1.
    fn from_str(text: &str) -> Result<Self> {
        let bad =
            |why: &str| Error::Config(format!("rate limit `{text}`: {why}; write it as `100/s`, `10/m` or `500/h`"));
        let (count, unit) = text.trim().split_once('/').ok_or_else(|| bad("no `/`"))?;
        let count: u32 = count.trim().parse().map_err(|_| bad("the count is not a whole number"))?;
        if count == 0 {
            return Err(bad("the count must be at least 1"));
        }
        match unit.trim() {
            "s" | "sec" | "second" => Ok(Self::per_second(count)),
            "m" | "min" | "minute" => Ok(Self::per_minute(count)),
            "h" | "hour" => Ok(Self::per_hour(count)),
            _ => Err(bad("the unit is not s, m or h")),
        }
    }
}

/// Slots of keyed schedules, shared by every worker of a store.
///
/// A key's schedule lets `burst` slots start at once after an idle time and
/// then one every `interval`. [`reserve`](Self::reserve) takes the next slot
/// and returns how long from now it starts: zero when it starts now. Every
/// call takes a slot (none is refused), so that concurrent callers are
/// spread over the schedule instead of racing for the same one; atomic
/// across processes on every store. An idle key is forgotten once its
/// schedule is in the past.
#[async_trait]
pub trait RateLimiter: Send + Sync + fmt::Debug + 'static {
    /// Takes the next slot of `key`'s schedule; how long until it starts.
    async fn reserve(&self, key: &str, interval: Duration, burst: u32) -> Result<Duration>;
}

/// The next slot of a schedule, as every store computes it (the stores that
/// run it as a script or a statement mirror it): with the key's theoretical
/// arrival time `tat` (microseconds; `None` for a new or forgotten key) at
/// `now`, the new arrival time and the wait before the slot, in microseconds.
pub fn next_slot(tat: Option<i64>, now: i64, interval: Duration, burst: u32) -> (i64, i64) {
    let interval = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
    let tat = tat.unwrap_or(now).max(now).saturating_add(interval);
    let wait = tat.saturating_sub(interval.saturating_mul(i64::from(burst.max(1)))).saturating_sub(now).max(0);
    (tat, wait)
}

/// The header of a delivery put back to wait for its slot: the attempt that
/// holds the slot, so that the delivery runs when it comes back without
/// asking again (a retry, a later attempt, asks for a slot of its own). Left
/// out of envelope signatures, like the attempt (see [`crate::signing`]), so
/// it is not believed on its own: the worker that puts the delivery back
/// records the slot in the lock store, and one that receives it runs it at
/// once only if it finds and takes away that record; a header with no record
/// (written into the broker by hand) is ignored and the delivery asks for a
/// slot like any other.
pub const SLOT_HEADER: &str = "stem-rate-slot";
