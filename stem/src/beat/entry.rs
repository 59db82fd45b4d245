//! [`ScheduleEntry`]: one schedule as the store keeps it: what it enqueues,
//! when, its options, and what happened so far.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::schedule::Schedule;
use crate::error::Result;
use crate::task::{Signature, Task};

/// How many missed fires `catch_up = "all"` enqueues at most, per catch-up:
/// the latest ones; older ones are skipped and counted.
pub const CATCH_UP_MAX: u32 = 100;

/// What a scheduler does with fires it missed (it was down).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// The latest missed fire is enqueued if it is within the grace
    /// period; older ones are skipped and counted.
    #[default]
    Latest,
    /// Every missed fire is enqueued, up to the latest [`CATCH_UP_MAX`];
    /// older ones are skipped and counted.
    All,
}

/// One schedule: a task call, when it fires, and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScheduleEntry {
    /// Its id, unique in the store.
    pub id: String,
    /// The task's name.
    pub task: String,
    /// The task's arguments, as JSON (decoded into the task's `Args` when a
    /// fire is enqueued).
    pub args: serde_json::Value,
    /// The queue, if not the task's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The priority, if not the task's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Headers for each enqueued task.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// When it fires.
    pub schedule: Schedule,
    /// Whether it fires.
    pub enabled: bool,
    /// A random delay, up to this, added to each enqueue (the due time and
    /// the task id do not change).
    #[serde(default, with = "millis_option", skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Duration>,
    /// No fire before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// No fire after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// How late a fire may be enqueued (after downtime) before it is skipped.
    #[serde(with = "millis")]
    pub grace: Duration,
    /// What happens to fires missed beyond the latest.
    #[serde(default)]
    pub catch_up: CatchUp,
    /// When it was put first (the start of an interval without one).
    pub created_at: DateTime<Utc>,
    /// The next fire; `None` when it never fires again.
    pub next_fire: Option<DateTime<Utc>>,
    /// The last fire claimed.
    #[serde(default)]
    pub last_fire: Option<DateTime<Utc>>,
    /// How late the last fire was enqueued after its due time, in ms.
    #[serde(default)]
    pub last_drift_ms: Option<i64>,
    /// Fires enqueued.
    #[serde(default)]
    pub runs: u64,
    /// Fires skipped (missed beyond the grace period).
    #[serde(default)]
    pub skipped: u64,
    /// Why the last fire could not be enqueued, if it could not.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The grace period of a schedule that sets none.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);

impl ScheduleEntry {
    /// A schedule `id` of `call` at `schedule`, enabled, its first fire
    /// computed from now.
    pub fn new<T: Task>(id: impl Into<String>, call: Signature<T>, schedule: Schedule) -> Result<Self> {
        let args = serde_json::to_value(call.args()).map_err(|e| crate::codec::codec_error("json", e))?;
        let options = call.options();
        Ok(Self::of_task(id, T::NAME, args, schedule)
            .with_queue(options.queue.clone())
            .with_priority(options.priority)
            .with_headers(options.headers.clone()))
    }

    /// A schedule of task `task` (by name) with JSON `args`.
    pub fn of_task(
        id: impl Into<String>,
        task: impl Into<String>,
        args: serde_json::Value,
        schedule: Schedule,
    ) -> Self {
        let now = Utc::now();
        let mut entry = Self {
            id: id.into(),
            task: task.into(),
            args,
            queue: None,
            priority: None,
            headers: BTreeMap::new(),
            schedule,
            enabled: true,
            jitter: None,
            start: None,
            end: None,
            grace: DEFAULT_GRACE,
            catch_up: CatchUp::Latest,
            created_at: now,
            next_fire: None,
            last_fire: None,
            last_drift_ms: None,
            runs: 0,
            skipped: 0,
            last_error: None,
        };
        entry.next_fire = entry.fire_after(now - chrono::Duration::microseconds(1));
        entry
    }

    fn with_queue(mut self, queue: Option<String>) -> Self {
        self.queue = queue;
        self
    }

    fn with_priority(mut self, priority: Option<u8>) -> Self {
        self.priority = priority;
        self
    }

    fn with_headers(mut self, headers: BTreeMap<String, String>) -> Self {
        self.headers = headers;
        self
    }

    /// The same schedule with a random delay up to `jitter` on each enqueue.
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// The same schedule firing only from `start` and until `end`.
    #[must_use]
    pub fn between(mut self, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Self {
        self.start = start;
        self.end = end;
        self.next_fire = self.fire_after(Utc::now() - chrono::Duration::microseconds(1));
        self
    }

    /// The same schedule with another grace period and catch-up.
    #[must_use]
    pub fn catching_up(mut self, grace: Duration, catch_up: CatchUp) -> Self {
        self.grace = grace;
        self.catch_up = catch_up;
        self
    }

    /// The same schedule, disabled (or enabled).
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The first fire strictly after `after` within the start and end.
    pub fn fire_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let after = match self.start {
            Some(start) if start > after => start - chrono::Duration::microseconds(1),
            _ => after,
        };
        let next = self.schedule.next_after(after, self.created_at)?;
        match self.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// The next `n` fires after `after` (for a dry run).
    pub fn fires_after(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.fire_after(after), |last| self.fire_after(*last)).take(n).collect()
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod millis_option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}
