use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::codec::payload::Payload;
use crate::envelope::Envelope;
use crate::id::TaskId;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskState {
    /// Enqueued, not yet taken by a worker.
    Queued,
    /// A worker is running it.
    Started,
    /// An attempt failed and another is scheduled.
    Retrying,
    /// It finished with a result. Final.
    Succeeded,
    /// It failed for good (retries exhausted or fail-now); it is in the dead letter queue. Final.
    Failed,
    /// It was received after its `expires` time and not run. Final.
    Expired,
    /// It was revoked before it finished. Final.
    Revoked,
}

impl TaskState {
    /// Every state, in the order a task goes through them.
    pub const ALL: [Self; 7] =
        [Self::Queued, Self::Started, Self::Retrying, Self::Succeeded, Self::Failed, Self::Expired, Self::Revoked];

    /// Whether no further change is expected.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Expired | Self::Revoked)
    }

    /// The lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Started => "started",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an attempt failed, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The error's kind: a Rust type name, `panic`, `time_limit`, `unknown_task` ...
    pub kind: String,
    /// The error's message.
    pub message: String,
}

/// Progress reported by a running task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// From 0.0 to 1.0.
    pub fraction: f64,
    /// Optional task-defined detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// Everything the result backend knows of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskStatus {
    /// The task id.
    pub id: TaskId,
    /// The task name.
    pub task: String,
    /// The queue.
    pub queue: String,
    /// The state.
    pub state: TaskState,
    /// The attempt this state belongs to (0 for the first).
    pub attempt: u32,
    /// The fencing token of the delivery that wrote this (0 for the producer).
    /// A write with a lower token than the stored one is refused.
    pub fence: u64,
    /// The encoded result, once succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Payload>,
    /// The last error, when retrying or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// The last progress report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Free-form metadata (worker id, retry delay ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, serde_json::Value>,
    /// When this state was written.
    pub updated_at: DateTime<Utc>,
}

impl TaskStatus {
    /// A status in `state` for the given task, with nothing else set.
    pub fn new(id: TaskId, task: impl Into<String>, queue: impl Into<String>, state: TaskState) -> Self {
        Self {
            id,
            task: task.into(),
            queue: queue.into(),
            state,
            attempt: 0,
            fence: 0,
            result: None,
            error: None,
            progress: None,
            meta: BTreeMap::new(),
            updated_at: Utc::now(),
        }
    }

    /// The status a published message stands for until a worker writes one:
    /// queued, at the envelope's attempt, as of its creation. Its fence is 0,
    /// so any worker's write (fence 1 and up) wins over it whatever the order
    /// of arrival. Producers record it; stores whose messages are readable by task id (Postgres, Redis)
    /// read it from the message instead of storing it.
    pub fn queued(envelope: &Envelope) -> Self {
        let mut status = Self::new(envelope.id, envelope.task.clone(), envelope.queue.clone(), TaskState::Queued);
        status.attempt = envelope.attempt;
        status.updated_at = envelope.created_at;
        status.mark_run_of(envelope);
        status
    }

    /// The run it was written for (see [`Envelope::run`]).
    pub fn run(&self) -> Option<&str> {
        self.meta.get(crate::envelope::RUN_META).and_then(serde_json::Value::as_str)
    }

    /// Marks it as written for `envelope`'s run, if the envelope has one,
    /// and with its lineage: the task that enqueued it (`stem.parent`), the
    /// first of its canvas or family (`stem.root`), and the chord whose
    /// member it is (`stem.group`), where the envelope says (front ends link
    /// a task to its chain and group with them).
    pub fn mark_run_of(&mut self, envelope: &Envelope) {
        if let Some(run) = envelope.run() {
            self.meta.insert(crate::envelope::RUN_META.to_owned(), run.into());
        }
        if let Some(parent) = envelope.parent_id {
            self.meta.insert(PARENT_META.to_owned(), parent.to_string().into());
        }
        if let Some(root) = envelope.root_id.filter(|r| *r != envelope.id) {
            self.meta.insert(ROOT_META.to_owned(), root.to_string().into());
        }
        if let Some(member) = envelope.canvas.as_deref().and_then(|plan| plan.member.as_ref()) {
            self.meta.insert(GROUP_META.to_owned(), member.group.to_string().into());
        }
        if envelope.meta.get(KEEP_ARGS_META) == Some(&serde_json::Value::Bool(true)) {
            self.meta.insert(ARGS_META.to_owned(), args_json(envelope));
        }
    }
}

/// An envelope's arguments as JSON, for people to read: the value itself
/// for the JSON codec, else a note of their size and codec.
pub fn args_json(envelope: &Envelope) -> serde_json::Value {
    let bytes = envelope.args.bytes();
    match envelope.args.codec() {
        "json" => serde_json::from_slice(bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned())),
        codec => serde_json::Value::String(format!("{} bytes of {codec}", bytes.len())),
    }
}

/// The envelope `meta` flag (`true`) that makes every status written for
/// it keep its arguments under [`ARGS_META`]; set by
/// [`Stem::with_kept_args`](crate::Stem::with_kept_args).
pub const KEEP_ARGS_META: &str = "stem.keep_args";

/// The status `meta` key of the task's arguments (see [`args_json`]), kept
/// when the envelope says [`KEEP_ARGS_META`].
pub const ARGS_META: &str = "stem.args";

/// The status `meta` key of the task that enqueued this one.
pub const PARENT_META: &str = "stem.parent";

/// The status `meta` key of the first task of this one's canvas or family.
pub const ROOT_META: &str = "stem.root";

/// The status `meta` key of the chord group this task is a member of.
pub const GROUP_META: &str = "stem.group";
