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
pub struct TaskHandle<T> {
    stem: Stem,
    id: TaskId,
    _output: PhantomData<fn() -> T>,
}

impl<T> TaskHandle<T> {
    pub(crate) fn new(stem: Stem, id: TaskId) -> Self {
        Self { stem, id, _output: PhantomData }
    }

    /// The task id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The current status; `None` if unknown or expired.
    pub async fn status(&self) -> Result<Option<TaskStatus>> {
        self.stem.backend().get(self.id).await
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
        codec::decode(&result_of(&self.stem, self.id, timeout).await?)
    }
}

/// The encoded result of task `id` once it succeeded, waiting at most
/// `timeout`; its failure once it failed (or was stopped).
pub(crate) async fn result_of(stem: &Stem, id: TaskId, timeout: Duration) -> Result<Payload> {
    let status = stem.backend().wait(id, timeout).await?.ok_or(Error::UnknownTaskId(id))?;
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
        Self::new(self.stem.clone(), self.id)
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
