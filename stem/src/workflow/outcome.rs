//! A run's end as its handle reads it: written to the result backend under
//! the run's id, where [`WorkflowHandle::wait`](super::WorkflowHandle::wait)
//! is woken like a task's waiter.

use serde_json::Value;

use super::run::{RunState, RunStatus};
use crate::backend::{ErrorInfo, TaskState, TaskStatus};
use crate::codec::Payload;
use crate::error::Result;
use crate::stem::Stem;

/// Writes a final run's end to the result backend under the run's id, which
/// wakes [`WorkflowHandle::wait`](super::WorkflowHandle::wait). Idempotent.
pub(crate) async fn record_outcome(stem: &Stem, state: &RunState) -> Result<()> {
    let task_state = match state.status {
        RunStatus::Completed => TaskState::Succeeded,
        RunStatus::Failed => TaskState::Failed,
        RunStatus::Cancelled => TaskState::Revoked,
        RunStatus::Running | RunStatus::Suspended => return Ok(()),
    };
    let mut status = TaskStatus::new(state.id, state.workflow.clone(), state.queue.clone(), task_state);
    status.fence = 1;
    status.result = state.result.as_ref().map(json_payload);
    status.error =
        state.error.as_ref().map(|e| ErrorInfo { kind: state.status.as_str().to_owned(), message: e.clone() });
    stem.backend().set(status).await.map(drop)
}

/// The run status a record of [`record_outcome`] stands for; `None` for a
/// state it does not write.
pub(crate) fn recorded_run_status(state: TaskState) -> Option<RunStatus> {
    match state {
        TaskState::Succeeded => Some(RunStatus::Completed),
        TaskState::Failed => Some(RunStatus::Failed),
        TaskState::Revoked => Some(RunStatus::Cancelled),
        _ => None,
    }
}

fn json_payload(value: &Value) -> Payload {
    Payload::new("json", serde_json::to_vec(value).unwrap_or_default())
}
