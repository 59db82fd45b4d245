//! The workflow store contract: runs, their checkpoints, leases, timers and
//! event watchers.
//!
//! The runtime never reads a clock inside a store: every method that compares
//! or records a time takes it as an argument, so that a fake clock drives the
//! whole workflow machinery in tests. Those times are on the store's clock all
//! the same: a worker reads the store's time once ([`WorkflowStore::now`]) and
//! moves its own clock's readings by the difference (`Stem::sync_clock`), so
//! that a worker whose clock is minutes off neither takes over a live run nor
//! wakes a timer early. Writes made on behalf of an execution are
//! fenced by the owner of the run's lease: once another worker has taken a run
//! over, the old owner's writes change nothing and report `false`.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::run::{Finish, NewRun, RunFilter, RunId, RunState, RunStatus};
use crate::error::Result;

/// One recorded step of a run: what an operation at `position` returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Its place in the run's sequence of durable operations, from 0.
    pub position: u32,
    /// The operation's id: a step's name and occurrence (`charge_card#0`), or an
    /// internal one (`stem.sleep#0`, `stem.now#1` ...).
    pub name: String,
    /// The recorded (JSON) value. A step's is `{"ok": value, "attempts": n}`
    /// or `{"err": message, "attempts": n}`; a called task's `{"ok": payload}`
    /// or `{"err": message}`; internal operations record their own shapes.
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

/// What [`WorkflowStore::open_run`] read, and whether it claimed the run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpenedRun {
    /// The run as it was read: before the claim, so its `owner` and
    /// `lease_until` are the previous holder's.
    pub state: RunState,
    /// Its checkpoints in position order if the run was claimed for the
    /// caller; `None` if it was not (it is final or suspended, or another
    /// owner holds an unexpired lease).
    pub checkpoints: Option<Vec<Checkpoint>>,
}

impl OpenedRun {
    /// A run as an adapter read it: claimed (with its checkpoints) or not.
    pub fn new(state: RunState, checkpoints: Option<Vec<Checkpoint>>) -> Self {
        Self { state, checkpoints }
    }
}

/// A run made runnable again, and the queue to enqueue its execution on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// The run.
    pub run: RunId,
    /// Its queue.
    pub queue: String,
}

/// Where workflow runs live. Every adapter implements it and passes
/// `stem::testing::workflow_store_suite` (feature `testing`).
#[async_trait]
pub trait WorkflowStore: Send + Sync + fmt::Debug + 'static {
    /// The store's current time: the server's clock for a store on a server,
    /// this machine's for one in a file or in memory (the default).
    async fn now(&self) -> Result<DateTime<Utc>> {
        Ok(Utc::now())
    }

    /// Creates a run (status running, no checkpoints). A second run with the
    /// same id fails with [`Error::RunExists`](crate::Error::RunExists) and
    /// leaves the first as it was.
    async fn create_run(&self, run: NewRun) -> Result<()>;

    /// Creates many runs, in one round trip where the store allows; per run,
    /// true if created, false if a run with its id existed (and was left as
    /// it was). The default creates them one by one.
    async fn create_runs(&self, runs: Vec<NewRun>) -> Result<Vec<bool>> {
        let mut created = Vec::with_capacity(runs.len());
        for run in runs {
            created.push(match self.create_run(run).await {
                Ok(()) => true,
                Err(crate::Error::RunExists(_)) => false,
                Err(e) => return Err(e),
            });
        }
        Ok(created)
    }

    /// The run, if it exists.
    async fn get_run(&self, id: RunId) -> Result<Option<RunState>>;

    /// The run's checkpoints in position order.
    async fn checkpoints(&self, id: RunId) -> Result<Vec<Checkpoint>>;

    /// Takes the run's lease for `owner` until `until`: true if the run is
    /// running and nobody else holds an unexpired lease (`now` decides).
    async fn claim_run(&self, id: RunId, owner: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool>;

    /// What an execution starts with, in one round trip where the store
    /// allows: reads run `id`, claims it for `owner` until `until` as
    /// [`claim_run`](Self::claim_run) would, and, if it did, reads its
    /// checkpoints. `None` if the run does not exist. The claim and the reads
    /// are one atomic step on the SQL and Redis stores; this default makes the
    /// three calls, which is as good where calls cost nothing (in memory).
    async fn open_run(
        &self,
        id: RunId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<OpenedRun>> {
        let Some(state) = self.get_run(id).await? else { return Ok(None) };
        if state.status != RunStatus::Running || !self.claim_run(id, owner, now, until).await? {
            return Ok(Some(OpenedRun::new(state, None)));
        }
        let checkpoints = self.checkpoints(id).await?;
        Ok(Some(OpenedRun::new(state, Some(checkpoints))))
    }

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

    /// An execution's end: records `checkpoints` (its last operations, not
    /// written yet; each as [`save_checkpoint`](Self::save_checkpoint) would,
    /// so one whose position is taken is left as it was) and ends the run as
    /// [`finish_run`](Self::finish_run) with `owner` does. True if the run
    /// ended. The SQL and Redis stores make it one atomic write (one
    /// transaction, one script), group-committed with other runs' writes;
    /// this default saves the checkpoints one by one, then finishes, which is
    /// as good where calls cost nothing (in memory) and still never ends a
    /// run before its checkpoints are recorded.
    async fn finish_run_after(
        &self,
        id: RunId,
        owner: &str,
        checkpoints: Vec<Checkpoint>,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        for checkpoint in checkpoints {
            self.save_checkpoint(id, owner, checkpoint).await?;
        }
        self.finish_run(id, Some(owner), finish, now).await
    }

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
