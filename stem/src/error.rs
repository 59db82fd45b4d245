//! The error type of every fallible operation in Stem.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::status::{ErrorInfo, TaskState, TaskStatus};
use crate::id::TaskId;

/// A `Result` whose error defaults to Stem's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in Stem itself, in an adapter, or in the task being waited for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Arguments or a result could not be encoded or decoded by their codec.
    #[error("codec `{codec}` failed: {message}")]
    Codec {
        /// The codec's id (`json`, `bincode`).
        codec: String,
        /// What the codec reported.
        message: String,
    },
    /// A payload names a codec this build does not know.
    #[error("unknown codec `{codec}`: known codecs are {known}")]
    UnknownCodec {
        /// The codec's id.
        codec: String,
        /// The codecs this build knows.
        known: String,
    },
    /// Two tasks were registered under one name.
    #[error(
        "two tasks are named `{name}`: one at {first}, one at {second}; give one of them `#[stem::task(name = \"...\")]`"
    )]
    DuplicateTask {
        /// The shared name.
        name: String,
        /// Source location of the first registration.
        first: String,
        /// Source location of the second registration.
        second: String,
    },
    /// Two workflows were registered under one name.
    #[error(
        "two workflows are named `{name}`: one at {first}, one at {second}; give one of them `#[stem::workflow(name = \"...\")]`"
    )]
    DuplicateWorkflow {
        /// The shared name.
        name: String,
        /// Source location of the first registration.
        first: String,
        /// Source location of the second registration.
        second: String,
    },
    /// A delivery's lease was lost: it expired and the message went to another consumer.
    #[error("the lease of task {0} was lost: it expired and the task was delivered again")]
    LeaseLost(TaskId),
    /// No task with this id is known to the result backend.
    #[error("no task {0} is known to the result backend (never enqueued, or its record expired)")]
    UnknownTaskId(TaskId),
    /// A wait ended at its deadline before the task reached a final state.
    #[error("task {id} did not finish within {timeout:?}")]
    Timeout {
        /// The task waited for.
        id: TaskId,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The task ended without a result: it failed, expired or was revoked.
    #[error("{0}")]
    TaskFailed(TaskFailure),
    /// A workflow run with this id exists already.
    #[error("a workflow run with id {0} exists already; start it under another id, or wait for the existing run")]
    RunExists(crate::workflow::run::RunId),
    /// No workflow run with this id is known to the workflow store.
    #[error("no workflow run {0} is known to the workflow store")]
    UnknownRun(crate::workflow::run::RunId),
    /// A workflow run ended without a result: it failed or was cancelled.
    #[error("workflow run {run} ({workflow}) {status}: {error}")]
    WorkflowFailed {
        /// The run.
        run: crate::workflow::run::RunId,
        /// The workflow's name.
        workflow: String,
        /// How it ended.
        status: crate::workflow::run::RunStatus,
        /// Why.
        error: String,
    },
    /// Arguments given as JSON (by the CLI, say) do not decode into the
    /// task's, workflow's or event's own type.
    #[error("the arguments of `{name}` are not valid: {error}")]
    Args {
        /// The task, workflow or event topic.
        name: String,
        /// The field that did not decode, and why.
        error: crate::args::ArgsError,
    },
    /// A task's encoded arguments are larger than the Stem's payload limit:
    /// nothing was stored.
    #[error(
        "task `{task}`: its arguments encode to {size} bytes, over the payload limit of {limit} bytes \
         (Stem::with_max_payload raises it; keep large data elsewhere and pass a reference)"
    )]
    PayloadTooLarge {
        /// The task.
        task: String,
        /// The encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A configuration value is invalid; the message names it and the fix.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The store lacks a capability the call needs.
    #[error("this store does not support {0}")]
    Unsupported(&'static str),
    /// The store is closed or shut down.
    #[error("the {0} is closed")]
    Closed(&'static str),
    /// An adapter's own failure (connection, query, I/O).
    #[error("{context}")]
    Adapter {
        /// What the adapter was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Wraps an adapter's error with what it was doing at the time.
    pub fn adapter(context: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Adapter { context: context.into(), source: source.into() }
    }
}

/// How a task ended without a result; the error of a failed [`wait`](crate::TaskHandle::wait),
/// and the input of a [`link_error`](crate::Signature::link_error) task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The task id.
    pub id: TaskId,
    /// The task name.
    pub task: String,
    /// The final state: failed, expired or revoked.
    pub state: TaskState,
    /// The attempt that ended it (0 for the first).
    pub attempt: u32,
    /// The error recorded, if any.
    pub error: Option<ErrorInfo>,
    /// For a task that never ran because a task before it in a canvas failed
    /// (a chain step, a chord member): that task's failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<TaskFailure>>,
}

/// The status meta key under which a stopped task's cause is recorded.
pub(crate) const CAUSE_META: &str = "stem.cause";

impl TaskFailure {
    /// The failure a final, unsuccessful status records; `None` for a task
    /// that succeeded or has not ended.
    pub fn from_status(status: &TaskStatus) -> Option<Self> {
        if !status.state.is_terminal() || status.state == TaskState::Succeeded {
            return None;
        }
        let cause = status.meta.get(CAUSE_META).and_then(|c| serde_json::from_value(c.clone()).ok()).map(Box::new);
        Some(Self {
            id: status.id,
            task: status.task.clone(),
            state: status.state,
            attempt: status.attempt,
            error: status.error.clone(),
            cause,
        })
    }

    /// The failure that started it all: the cause's cause ..., or this one.
    pub fn root(&self) -> &TaskFailure {
        self.cause.as_deref().map_or(self, TaskFailure::root)
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(cause) = &self.cause {
            return write!(f, "task `{}` ({}) did not run: {cause}", self.task, self.id);
        }
        // A count of runs, so that it agrees with `attempt` (0 for the first run).
        let runs = u64::from(self.attempt) + 1;
        let plural = if runs == 1 { "" } else { "s" };
        write!(f, "task `{}` ({}) {} after {runs} run{plural}", self.task, self.id, self.state)?;
        if let Some(error) = &self.error {
            write!(f, ": {}: {}", error.kind, error.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for TaskFailure {}
