//! Following runs ([`WorkflowHandle`]); starting them is in `start.rs`.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::outcome::{record_outcome, recorded_run_status};
use super::resume;
use super::run::{Finish, RunId, RunState, RunStatus};
use super::store::Checkpoint;
use crate::backend::{TaskState, TaskStatus};
use crate::error::{Error, Result};
use crate::stem::Stem;

/// A typed handle on a workflow run; `wait()` yields the workflow fn's output type.
pub struct WorkflowHandle<T> {
    stem: Stem,
    id: RunId,
    _output: PhantomData<fn() -> T>,
}

impl<T> WorkflowHandle<T> {
    pub(crate) fn new(stem: Stem, id: RunId) -> Self {
        Self { stem, id, _output: PhantomData }
    }

    /// The run's id.
    pub fn id(&self) -> RunId {
        self.id
    }

    /// The run as stored (status, cursor, error ...); `None` if unknown.
    pub async fn status(&self) -> Result<Option<RunState>> {
        self.stem.workflows().get_run(self.id).await
    }

    /// The run's recorded steps, in order, with their values.
    pub async fn steps(&self) -> Result<Vec<Checkpoint>> {
        self.stem.workflows().checkpoints(self.id).await
    }

    /// Cancels the run unless it has ended; true if this call cancelled it. An
    /// execution in progress stops at its next durable operation.
    pub async fn cancel(&self) -> Result<bool> {
        let now = self.stem.synced_now().await?;
        let how = Finish::Cancelled("cancelled by request".to_owned());
        if !self.stem.workflows().finish_run(self.id, None, how, now).await? {
            return Ok(false);
        }
        if let Some(state) = self.status().await? {
            record_outcome(&self.stem, &state).await?;
        }
        Ok(true)
    }
}

impl<T> WorkflowHandle<T> {
    /// Re-runs the run from its step `step` (an id like `charge_card#0`, or a
    /// name for its first occurrence): that checkpoint and every later one
    /// are deleted, and the run executes again from there, whatever its
    /// status. For operators: a run that failed on a bug, re-run after the fix.
    pub async fn rewind_to(&self, step: &str) -> Result<()> {
        let steps = self.steps().await?;
        let Some(position) = steps
            .iter()
            .find(|c| c.name == step || c.name.rsplit_once('#').is_some_and(|(base, _)| base == step))
            .map(|c| c.position)
        else {
            let names: Vec<&str> = steps.iter().map(|c| c.name.as_str()).collect();
            return Err(Error::Config(format!("run {} has no step `{step}`; its steps are {names:?}", self.id)));
        };
        let state = self.status().await?.ok_or(Error::UnknownRun(self.id))?;
        if !self.stem.workflows().rewind_run(self.id, position, self.stem.synced_now().await?).await? {
            return Err(Error::UnknownRun(self.id));
        }
        let mut queued = TaskStatus::new(self.id, state.workflow.clone(), state.queue.clone(), TaskState::Queued);
        queued.fence = 1; // replaces the recorded end, so that waiters wait again
        self.stem.backend().set(queued).await?;
        resume::execute(&self.stem, self.id, state.queue).await?;
        Ok(())
    }
}

impl<T: DeserializeOwned> WorkflowHandle<T> {
    /// Waits until the run ends and returns its result; fails with
    /// [`Error::WorkflowFailed`] if it failed or was cancelled. The result
    /// backend wakes the waiter when the run ends and holds that end; nothing
    /// polls.
    pub async fn wait(&self) -> Result<T> {
        loop {
            match self.wait_timeout(Duration::from_secs(3600)).await {
                Err(Error::Timeout { .. }) => {}
                other => return other,
            }
        }
    }

    /// Like [`wait`](Self::wait), but fails with [`Error::Timeout`] after `timeout`.
    ///
    /// The run's end is read from the result backend, where the execution
    /// records it right after the store has it (`record_outcome`); nothing
    /// else is read when the wait sees that record. The store, the truth, is
    /// read when no end is recorded within five seconds (a record lost to a
    /// crash between the two writes, an unknown run). A rewind replaces the
    /// record before `rewind_to` returns, so a wait begun after it waits for
    /// the new end; one that overlaps it may see either end.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let recorded = self.stem.backend().wait(self.id, left.min(Duration::from_secs(5))).await?;
            if let Some(ended) = recorded.as_ref().and_then(|status| self.recorded_end(status)) {
                return ended;
            }
            let state = self.status().await?.ok_or(Error::UnknownRun(self.id))?;
            if state.status.is_terminal() {
                return ended(state);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout { id: self.id, timeout });
            }
            if recorded.is_none_or(|status| status.state.is_terminal()) {
                // No record to wait on, or one the store contradicts (a
                // rewind under way): look again shortly.
                tokio::time::sleep(left.min(Duration::from_millis(200))).await;
            }
        }
    }

    /// The run's end as `record_outcome` recorded it; `None` if `status` is
    /// not such an end.
    fn recorded_end(&self, status: &TaskStatus) -> Option<Result<T>> {
        let run_status = recorded_run_status(status.state)?;
        if run_status == RunStatus::Completed && status.result.is_none() {
            return None;
        }
        let error = status.error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
        let result = || serde_json::from_slice(status.result.as_ref().map_or(&[][..], |r| r.bytes()));
        Some(end(self.id, status.task.clone(), run_status, result, error))
    }
}

fn ended<T: DeserializeOwned>(state: RunState) -> Result<T> {
    let result = || serde_json::from_value(state.result.unwrap_or_default());
    end(state.id, state.workflow, state.status, result, state.error.unwrap_or_default())
}

/// A final run's result (`result` decodes it), or its failure.
fn end<T>(
    run: RunId,
    workflow: String,
    status: RunStatus,
    result: impl FnOnce() -> serde_json::Result<T>,
    error: String,
) -> Result<T> {
    match status {
        RunStatus::Completed => result().map_err(|e| Error::Codec {
            codec: "json".to_owned(),
            message: format!("the result of run {run} does not decode as the awaited type: {e}"),
        }),
        status => Err(Error::WorkflowFailed { run, workflow, status, error }),
    }
}

impl<T> Clone for WorkflowHandle<T> {
    fn clone(&self) -> Self {
        Self::new(self.stem.clone(), self.id)
    }
}

impl<T> fmt::Debug for WorkflowHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowHandle").field("id", &self.id).field("output", &std::any::type_name::<T>()).finish()
    }
}
