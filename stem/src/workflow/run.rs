//! A workflow run as stored: its id, status, cancellation policy and fields,
//! how it ends, and which runs to list.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::TaskId;

/// The id of one workflow run (a UUID, like a task id).
pub type RunId = TaskId;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunStatus {
    /// Runnable or running: waiting for a worker, or being executed by one.
    Running,
    /// Waiting for a timer or an event; no worker holds it.
    Suspended,
    /// Finished with a result. Final.
    Completed,
    /// Finished with an error. Final.
    Failed,
    /// Cancelled by a request or by its cancellation policy. Final.
    Cancelled,
}

impl RunStatus {
    /// Whether no further change is expected.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Suspended => "suspended",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status named `name` (as stored), if any.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Running, Self::Suspended, Self::Completed, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits after which the runtime cancels a run by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancellationPolicy {
    /// The longest a run may take from its start to its end.
    pub max_run_time: Option<Duration>,
    /// The longest a run may stay suspended (asleep or waiting for an event) at one time.
    pub max_suspended_time: Option<Duration>,
}

impl CancellationPolicy {
    /// No limits.
    pub const NONE: Self = Self { max_run_time: None, max_suspended_time: None };
}

/// A run to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// Its id; creating a second run with one id fails and changes nothing.
    pub id: RunId,
    /// The workflow's name.
    pub workflow: String,
    /// The queue its executions are enqueued on.
    pub queue: String,
    /// The encoded (JSON) arguments.
    pub args: Value,
    /// Its cancellation policy.
    pub policy: CancellationPolicy,
    /// When it was created.
    pub at: DateTime<Utc>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunState {
    /// The run's id.
    pub id: RunId,
    /// The workflow's name.
    pub workflow: String,
    /// Where it is.
    pub status: RunStatus,
    /// The queue its executions are enqueued on.
    pub queue: String,
    /// The encoded (JSON) arguments.
    pub args: Value,
    /// How many checkpoints it has.
    pub cursor: u32,
    /// The encoded result, once completed.
    pub result: Option<Value>,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// The event topic it waits for, while suspended on one.
    pub wait_topic: Option<String>,
    /// When it wakes up, while suspended with a timer or a deadline.
    pub resume_at: Option<DateTime<Utc>>,
    /// When it was suspended, while suspended.
    pub suspended_at: Option<DateTime<Utc>>,
    /// The lease holder, while executing.
    pub owner: Option<String>,
    /// When the lease ends.
    pub lease_until: Option<DateTime<Utc>>,
    /// Its cancellation policy.
    pub policy: CancellationPolicy,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
}

impl RunState {
    /// The state of a newly created run.
    pub fn new(run: NewRun) -> Self {
        Self {
            id: run.id,
            workflow: run.workflow,
            status: RunStatus::Running,
            queue: run.queue,
            args: run.args,
            cursor: 0,
            result: None,
            error: None,
            wait_topic: None,
            resume_at: None,
            suspended_at: None,
            owner: None,
            lease_until: None,
            policy: run.policy,
            created_at: run.at,
            updated_at: run.at,
        }
    }
}

/// How a run ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// Completed with this encoded result.
    Completed(Value),
    /// Failed with this error.
    Failed(String),
    /// Cancelled for this reason.
    Cancelled(String),
}

impl Finish {
    /// The status it ends in.
    pub fn status(&self) -> RunStatus {
        match self {
            Self::Completed(_) => RunStatus::Completed,
            Self::Failed(_) => RunStatus::Failed,
            Self::Cancelled(_) => RunStatus::Cancelled,
        }
    }
}

/// Which runs to list.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RunFilter {
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// At most this many (0: 50).
    pub limit: usize,
    /// Skipping this many, newest first.
    pub offset: usize,
}

impl RunFilter {
    /// Every run, 50 at a time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only runs of `workflow`.
    pub fn workflow(mut self, workflow: impl Into<String>) -> Self {
        self.workflow = Some(workflow.into());
        self
    }

    /// Only runs in `status`.
    pub fn status(mut self, status: RunStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// At most `limit`, skipping `offset`.
    pub fn page(mut self, limit: usize, offset: usize) -> Self {
        self.limit = limit;
        self.offset = offset;
        self
    }

    /// The effective limit.
    pub fn effective_limit(&self) -> usize {
        if self.limit == 0 { 50 } else { self.limit }
    }

    /// Whether `run` passes the workflow and status filters.
    pub fn matches(&self, run: &RunState) -> bool {
        self.workflow.as_ref().is_none_or(|w| *w == run.workflow) && self.status.is_none_or(|s| s == run.status)
    }
}
