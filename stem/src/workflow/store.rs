//! The workflow store contract: runs, their checkpoints, leases, timers and
//! event watchers.
//!
//! The runtime never reads a clock inside a store: every method that compares
//! or records a time takes it as an argument, so that a fake clock drives the
//! whole workflow machinery in tests. Writes made on behalf of an execution are
//! fenced by the owner of the run's lease: once another worker has taken a run
//! over, the old owner's writes change nothing and report `false`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
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

/// One recorded step of a run: what an operation at `position` returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Its place in the run's sequence of durable operations, from 0.
    pub position: u32,
    /// The operation's id: a step's name and occurrence (`charge_card#0`), or an
    /// internal one (`stem.sleep#0`, `stem.now#1` ...).
    pub name: String,
    /// The recorded (JSON) value.
    pub value: Value,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// An event wait registered with a suspension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    /// The topic waited for.
    pub topic: String,
    /// The checkpoint the event's value is recorded as (position and name).
    pub position: u32,
    /// The checkpoint's name.
    pub step: String,
}

/// A registered event wait, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Watcher {
    /// The waiting run.
    pub run: RunId,
    /// The wait.
    pub watch: Watch,
    /// When the wait ends without an event, if ever.
    pub deadline: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl Watcher {
    /// A watcher as an adapter reads it back.
    pub fn new(run: RunId, watch: Watch, deadline: Option<DateTime<Utc>>, created_at: DateTime<Utc>) -> Self {
        Self { run, watch, deadline, created_at }
    }
}

/// What an execution writes when it suspends its run, all at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspension {
    /// A checkpoint recorded with the suspension (a sleep's wake time).
    pub checkpoint: Option<Checkpoint>,
    /// When the run wakes up by itself (a timer, an event's deadline, a policy limit).
    pub resume_at: Option<DateTime<Utc>>,
    /// The event the run waits for.
    pub watch: Option<Watch>,
    /// The time of suspending.
    pub at: DateTime<Utc>,
}

/// A run made runnable again, and the queue to enqueue its execution on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// The run.
    pub run: RunId,
    /// Its queue.
    pub queue: String,
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

/// Where workflow runs live. Every adapter implements it and passes
/// `stem::testing::workflow_store_suite` (feature `testing`).
#[async_trait]
pub trait WorkflowStore: Send + Sync + fmt::Debug + 'static {
    /// Creates a run (status running, no checkpoints). A second run with the
    /// same id fails with [`Error::RunExists`](crate::Error::RunExists) and
    /// leaves the first as it was.
    async fn create_run(&self, run: NewRun) -> Result<()>;

    /// The run, if it exists.
    async fn get_run(&self, id: RunId) -> Result<Option<RunState>>;

    /// The run's checkpoints in position order.
    async fn checkpoints(&self, id: RunId) -> Result<Vec<Checkpoint>>;

    /// Takes the run's lease for `owner` until `until`: true if the run is
    /// running and nobody else holds an unexpired lease (`now` decides).
    async fn claim_run(&self, id: RunId, owner: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool>;

    /// Extends `owner`'s lease to `until`; false if the run is not running or
    /// another owner has taken it.
    async fn renew_run(&self, id: RunId, owner: &str, until: DateTime<Utc>) -> Result<bool>;

    /// Gives up `owner`'s lease, if it holds it.
    async fn release_run(&self, id: RunId, owner: &str) -> Result<()>;

    /// Records a checkpoint: true if the run is running, `owner` holds its
    /// lease and no checkpoint has that position yet. Also sets `updated_at`
    /// to the checkpoint's time.
    async fn save_checkpoint(&self, id: RunId, owner: &str, checkpoint: Checkpoint) -> Result<bool>;

    /// Suspends the run (fenced like [`save_checkpoint`](Self::save_checkpoint)):
    /// writes the suspension's checkpoint and watcher, sets the status to
    /// suspended with its wake time and topic, and releases the lease, all at once.
    async fn suspend_run(&self, id: RunId, owner: &str, suspension: Suspension) -> Result<bool>;

    /// Delivers an event to up to `limit` runs suspended on `topic`, oldest
    /// watcher first: for each, records `value` as the watched checkpoint,
    /// removes the run's watchers and makes it running again, all at once. Each
    /// watcher is resolved exactly once, however many callers race.
    async fn resolve_watchers(
        &self,
        topic: &str,
        value: Value,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Resumed>>;

    /// Makes up to `limit` suspended runs whose wake time is at or before `now`
    /// running again (removing their watchers) and returns them, earliest first.
    /// A run returned once is not returned again unless suspended again.
    async fn due_runs(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>>;

    /// Up to `limit` running runs nobody holds (no lease, or an expired one by
    /// `now`) that have not changed since `idle_since`: runs whose execution
    /// message was lost. Each returned run's `updated_at` becomes `now`, so that
    /// it is not returned again for a while.
    async fn stale_runs(&self, idle_since: DateTime<Utc>, now: DateTime<Utc>, limit: usize) -> Result<Vec<Resumed>>;

    /// Ends the run. With an `owner`, only if it is running and `owner` holds its
    /// lease; without, if it is not final yet (a cancellation from outside).
    /// Removes its watchers. False if nothing changed.
    async fn finish_run(&self, id: RunId, owner: Option<&str>, finish: Finish, now: DateTime<Utc>) -> Result<bool>;

    /// Records `error` as the run's last error without changing its status (an
    /// attempt failed and will be retried). False if the run is unknown or final.
    async fn record_error(&self, id: RunId, error: &str, now: DateTime<Utc>) -> Result<bool>;

    /// Rewinds the run to `position`: deletes its checkpoints at that position
    /// and after, and makes it runnable from there, whatever its status (an
    /// operator re-running a failed run from a step): status running; result,
    /// error, suspension, watchers and lease cleared; `updated_at` = `now`.
    /// False if the run is unknown.
    async fn rewind_run(&self, id: RunId, position: u32, now: DateTime<Utc>) -> Result<bool>;

    /// Deletes up to `limit` runs that ended (completed, failed or cancelled)
    /// at or before `ended_before` (their `updated_at`), with their
    /// checkpoints; returns how many. Oldest first.
    async fn prune_runs(&self, ended_before: DateTime<Utc>, limit: usize) -> Result<usize>;

    /// Runs matching `filter`, newest first.
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunState>>;

    /// Up to `limit` watchers of `topic`, oldest first.
    async fn list_watchers(&self, topic: &str, limit: usize) -> Result<Vec<Watcher>>;
}
