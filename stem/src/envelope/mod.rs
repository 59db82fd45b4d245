//! The envelope: one task message as every broker stores it, with the
//! canvas around the task ([`Plan`]).

mod call;
mod plan;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codec::payload::Payload;
use crate::id::TaskId;

pub(crate) use self::call::Call;
pub use self::plan::{GroupPlan, Member, Next, Plan};

/// The envelope format this build writes. Readers accept this version and older.
pub const ENVELOPE_VERSION: u16 = 1;

/// The highest priority; priorities run from 0 (the default, lowest) to 9.
pub const MAX_PRIORITY: u8 = 9;

/// The queue a task goes to when nothing names another.
pub const DEFAULT_QUEUE: &str = "default";

/// The `meta` key of an envelope's and a status's run marker (see [`Envelope::run`]).
pub const RUN_META: &str = "stem.run";

/// The header of a message whose task ignores its result
/// ([`TaskOptions::ignore_result`](crate::TaskOptions::ignore_result)): its
/// producer wrote no queued record for it, so its worker may leave a success
/// unrecorded on any store.
pub const IGNORE_RESULT_HEADER: &str = "stem-ignore-result";

/// One task message: what to run, with which arguments, and how.
///
/// The envelope is serde-encoded and versioned ([`ENVELOPE_VERSION`]); unknown
/// fields are ignored on read so that older workers can read newer envelopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Envelope {
    /// The envelope format version.
    #[serde(rename = "v")]
    pub version: u16,
    /// The task id, stable across retries.
    pub id: TaskId,
    /// The registered task name.
    pub task: String,
    /// The queue it is routed to.
    pub queue: String,
    /// The encoded arguments and their codec.
    pub args: Payload,
    /// String headers (trace context, tenant, signature).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, serde_json::Value>,
    /// The attempt, 0 for the first run and one more for every retry.
    #[serde(default)]
    pub attempt: u32,
    /// How many retries the task may use after its first attempt.
    #[serde(default)]
    pub max_retries: u32,
    /// 0 (lowest, the default) to 9 ([`MAX_PRIORITY`]); higher runs first.
    #[serde(default)]
    pub priority: u8,
    /// Not delivered before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// Recorded as expired, and not run, if received after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    /// When the task was first enqueued.
    pub created_at: DateTime<Utc>,
    /// Hard and soft time limits for this call; they override the task's own.
    #[serde(default, skip_serializing_if = "TimeLimits::is_empty")]
    pub time_limits: TimeLimits,
    /// The task that enqueued this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<TaskId>,
    /// The first task of the tree this one belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_id: Option<TaskId>,
    /// The canvas around the task (chain, group, chord, links), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canvas: Option<Box<Plan>>,
    /// What the call that made it named itself, for routing; never stored.
    #[serde(skip)]
    pub(crate) call: Call,
}

impl Envelope {
    /// A new envelope for `task` on `queue`, with everything else at its default.
    pub fn new(task: impl Into<String>, queue: impl Into<String>, args: Payload) -> Self {
        Self {
            version: ENVELOPE_VERSION,
            id: TaskId::new(),
            task: task.into(),
            queue: queue.into(),
            args,
            headers: BTreeMap::new(),
            meta: BTreeMap::new(),
            attempt: 0,
            max_retries: 0,
            priority: 0,
            not_before: None,
            expires: None,
            created_at: Utc::now(),
            time_limits: TimeLimits::default(),
            parent_id: None,
            root_id: None,
            canvas: None,
            call: Call::default(),
        }
    }

    /// The run this envelope belongs to, for a task id given by hand
    /// (`Signature::task_id`): each enqueue under such an id is a new run of
    /// it, told apart from earlier ones by this marker (in `meta`, under
    /// [`RUN_META`]), which the task's statuses carry too. `None` for an id
    /// Stem made, which no other enqueue shares.
    pub fn run(&self) -> Option<&str> {
        self.meta.get(RUN_META).and_then(serde_json::Value::as_str)
    }

    /// Whether its task ignores its result ([`IGNORE_RESULT_HEADER`]): no
    /// queued record is written for it, and its first attempt's success
    /// need not be recorded.
    pub fn ignores_result(&self) -> bool {
        self.headers.contains_key(IGNORE_RESULT_HEADER)
    }

    /// Marks it as a message of a task that ignores its result.
    pub(crate) fn mark_ignores_result(&mut self) {
        self.headers.insert(IGNORE_RESULT_HEADER.to_owned(), "1".to_owned());
    }

    /// Whether the envelope's `expires` time has passed at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    /// Whether the task may be delivered at `now`.
    pub fn is_due_at(&self, now: DateTime<Utc>) -> bool {
        self.not_before.is_none_or(|at| at <= now)
    }
}

/// Per-call time limits, stored in whole milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimits {
    /// The task is aborted when it runs longer than this.
    #[serde(default, with = "millis", skip_serializing_if = "Option::is_none")]
    pub hard: Option<Duration>,
    /// The task is told (through its context) when it runs longer than this.
    #[serde(default, with = "millis", skip_serializing_if = "Option::is_none")]
    pub soft: Option<Duration>,
}

impl TimeLimits {
    /// Whether neither limit is set.
    pub fn is_empty(&self) -> bool {
        self.hard.is_none() && self.soft.is_none()
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_skips_empty_fields() {
        let mut env = Envelope::new("app::add", "default", Payload::new("json", b"[1,2]".to_vec()));
        env.time_limits.hard = Some(Duration::from_millis(1500));
        let text = serde_json::to_string(&env).expect("serialize");
        assert!(!text.contains("headers"), "{text}");
        assert!(text.contains(r#""time_limits":{"hard":1500}"#), "{text}");
        let back: Envelope = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, env);
    }

    #[test]
    fn unknown_fields_from_newer_writers_are_ignored() {
        let env = Envelope::new("t", "q", Payload::new("json", b"null".to_vec()));
        let mut value = serde_json::to_value(&env).expect("to value");
        value["from_the_future"] = serde_json::json!(true);
        let back: Envelope = serde_json::from_value(value).expect("from value");
        assert_eq!(back.id, env.id);
    }

    #[test]
    fn due_and_expired() {
        let now = Utc::now();
        let mut env = Envelope::new("t", "q", Payload::new("json", b"null".to_vec()));
        assert!(env.is_due_at(now) && !env.is_expired_at(now));
        env.not_before = Some(now + chrono::Duration::seconds(5));
        env.expires = Some(now - chrono::Duration::seconds(1));
        assert!(!env.is_due_at(now) && env.is_expired_at(now));
    }
}
