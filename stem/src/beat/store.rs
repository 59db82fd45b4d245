//! The [`ScheduleStore`] contract: schedules, their due fires, and claims
//! that let any number of schedulers share one store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::entry::ScheduleEntry;
use crate::error::Result;

/// A scheduler's claim of one due fire of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The schedule.
    pub id: String,
    /// The fire claimed: the schedule's next fire as the scheduler read it.
    pub fire: DateTime<Utc>,
    /// The latest fire the claim covers (`fire`, or a later one when it
    /// catches up on missed fires): the schedule's last fire from then on.
    pub last: DateTime<Utc>,
    /// The next fire after this one (`None`: it never fires again).
    pub next: Option<DateTime<Utc>>,
    /// How many fires the claim enqueues (one, or more when catching up).
    pub enqueued: u64,
    /// How many missed fires it skips.
    pub skipped: u64,
}

/// How a claimed fire's enqueue went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The schedule.
    pub id: String,
    /// The fire's due time.
    pub fire: DateTime<Utc>,
    /// How late its enqueue was, in ms (enqueue time minus due time).
    pub drift_ms: i64,
    /// Why it could not be enqueued, if it could not.
    pub error: Option<String>,
}

/// Where schedules live. Every scheduler of a store reads due fires from it
/// and claims each in it; a claim moves the schedule's next fire only if it
/// is still the fire claimed, atomically, so that of many schedulers racing
/// for one fire exactly one wins.
///
/// The store keeps each [`ScheduleEntry`] whole; `next_fire`, `enabled`,
/// `last_fire`, `runs`, `skipped`, `last_drift_ms` and `last_error` are its
/// state, moved by [`claim`](Self::claim), [`record`](Self::record) and
/// [`set_enabled`](Self::set_enabled).
#[async_trait]
pub trait ScheduleStore: Send + Sync + std::fmt::Debug + 'static {
    /// Puts `entry`: new, or replacing the one with its id (definition,
    /// `enabled` and `next_fire`; its counts, last fire, drift and error
    /// are kept).
    async fn put(&self, entry: &ScheduleEntry) -> Result<()>;

    /// The entry `id`.
    async fn get(&self, id: &str) -> Result<Option<ScheduleEntry>>;

    /// Every entry, by id.
    async fn list(&self) -> Result<Vec<ScheduleEntry>>;

    /// Removes `id`; false if there was none.
    async fn remove(&self, id: &str) -> Result<bool>;

    /// Enables or disables `id` with its next fire; false if there is none.
    async fn set_enabled(&self, id: &str, enabled: bool, next_fire: Option<DateTime<Utc>>) -> Result<bool>;

    /// Enabled entries whose next fire is at or before `now`, earliest first,
    /// `limit` at most.
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ScheduleEntry>>;

    /// Claims fires, each on its own: an entry that is enabled and whose
    /// next fire is still the claim's `fire` moves to `next`, its last fire
    /// becomes the claim's `last`, its runs and skipped grow; true per claim
    /// that won.
    async fn claim(&self, claims: &[Claim]) -> Result<Vec<bool>>;

    /// Records how claimed fires went: the last drift, and the last error
    /// (cleared by a fire without one). An unknown id is ignored.
    async fn record(&self, fired: &[Fired]) -> Result<()>;
}
