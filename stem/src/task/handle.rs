use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::backend::{TaskState, TaskStatus};
use crate::codec::{self, Payload};
use crate::error::{Error, Result, TaskFailure};
use crate::id::TaskId;
use crate::stem::Stem;

/// A typed handle on an enqueued task; `wait()` yields the task's own output type.
///
/// A handle from an enqueue under an id given by hand (`Signature::task_id`)
/// follows that enqueue's run only (see [`Envelope::run`](crate::Envelope::run)):
/// what an earlier run of the id recorded reads as queued, and `wait` waits
/// for this run's end.
pub struct TaskHandle<T> {
    stem: Stem,
    id: TaskId,
    run: Option<String>,
    _output: PhantomData<fn() -> T>,
}

impl<T> TaskHandle<T> {
    pub(crate) fn new(stem: Stem, id: TaskId) -> Self {
        Self { stem, id, run: None, _output: PhantomData }
    }

    /// The same handle, following run `run` of its id only.
    pub(crate) fn of_run(mut self, run: Option<String>) -> Self {
        self.run = run;
        self
    }

    /// The task id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The current status; `None` if unknown or expired.
    pub async fn status(&self) -> Result<Option<TaskStatus>> {
        let status = self.stem.backend().get(self.id).await?;
        Ok(status.map(|status| match self.run.as_deref() {
            Some(run) if status.run() != Some(run) => {
                // An earlier run's record: this run has not started.
                TaskStatus::new(self.id, status.task, status.queue, TaskState::Queued)
            }
            _ => status,
        }))
    }
}

impl<T: DeserializeOwned> TaskHandle<T> {
    /// Waits until the task finishes and returns its result.
    ///
    /// Fails with [`Error::TaskFailed`] when the task ended failed, expired or
    /// revoked. The backend wakes the waiter; nothing polls.
    ///
    /// # Cancel safety
    /// Dropping the future stops waiting and changes nothing.
    pub async fn wait(&self) -> Result<T> {
        const CHUNK: Duration = Duration::from_secs(3600);
        loop {
            match self.wait_for(CHUNK).await {
                Err(Error::Timeout { .. }) => {}
                other => return other,
            }
        }
    }

    /// Like [`wait`](Self::wait), but fails with [`Error::Timeout`] after `timeout`.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<T> {
        self.wait_for(timeout).await
    }

    async fn wait_for(&self, timeout: Duration) -> Result<T> {
        codec::decode(&run_result_of(&self.stem, self.id, self.run.as_deref(), timeout).await?)
    }
}

/// The encoded result of task `id` once it succeeded, waiting at most
/// `timeout`; its failure once it failed (or was stopped).
pub(crate) async fn result_of(stem: &Stem, id: TaskId, timeout: Duration) -> Result<Payload> {
    run_result_of(stem, id, None, timeout).await
}

/// [`result_of`] for one run of the id (see [`Envelope::run`](crate::Envelope::run)),
/// or any with `None`. An earlier run's end is not this one's: it is looked
/// at again, less and less often (5 ms up to 200 ms), until this run's
/// replaces it; the backend wakes a waiter on a run's end, but the earlier
/// end is there already.
async fn run_result_of(stem: &Stem, id: TaskId, run: Option<&str>, timeout: Duration) -> Result<Payload> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    let status = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let status = stem.backend().wait(id, left).await?.ok_or(Error::UnknownTaskId(id))?;
        match run {
            Some(run) if status.run() != Some(run) && status.state.is_terminal() => {
                if left.is_zero() {
                    return Err(Error::Timeout { id, timeout });
                }
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            _ => break status,
        }
    };
    if status.state == TaskState::Succeeded {
        return status.result.ok_or_else(|| Error::Codec {
            codec: "none".to_owned(),
            message: format!("task {id} succeeded but no result was stored"),
        });
    }
    match TaskFailure::from_status(&status) {
        Some(failure) => Err(Error::TaskFailed(failure)),
        None => Err(Error::Timeout { id, timeout }),
    }
}

impl<T> Clone for TaskHandle<T> {
    fn clone(&self) -> Self {
        Self::new(self.stem.clone(), self.id).of_run(self.run.clone())
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").field("id", &self.id).field("output", &std::any::type_name::<T>()).finish()
    }
}

impl Stem {
    /// A typed handle on a task enqueued earlier (for example by another process).
    ///
    /// The output type is the caller's claim: waiting fails with a codec error if
    /// the stored result does not decode as `T`.
    pub fn handle<T>(&self, id: TaskId) -> TaskHandle<T> {
        TaskHandle::new(self.clone(), id)
    }
}
