//! Tasks called from workflows (`wf.call`): their derived ids, the value their
//! end is recorded as, and the notice that resumes the calling run.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::WorkflowError;
use super::run::RunId;
use crate::backend::{TaskState, TaskStatus};
use crate::codec::{self, Payload};
use crate::id::TaskId;
use crate::stem::Stem;

/// The first bytes of every derived task id, so that a worker knows a task
/// has a waiting run without reading anything.
const MARK: [u8; 4] = *b"stwf";

/// The id of the task a run calls at step `step`: the same on every replay.
pub(crate) fn task_id(run: RunId, step: &str) -> TaskId {
    // FNV-1a, 128 bits: stable across builds and Rust versions.
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in run.as_uuid().as_bytes().iter().chain(step.as_bytes()) {
        hash ^= u128::from(*byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let mut bytes = hash.to_be_bytes();
    bytes[..4].copy_from_slice(&MARK);
    TaskId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// Whether `id` was derived by [`task_id`].
pub(crate) fn is_call(id: TaskId) -> bool {
    let uuid = id.as_uuid();
    uuid.as_bytes()[..4] == MARK && uuid.get_version_num() == 8
}

/// The topic a run waits on for the end of task `id`.
pub(crate) fn topic(id: TaskId) -> String {
    format!("stem.task:{id}")
}

/// What a finished task is recorded as: `{"ok": payload}` or `{"err": why}`;
/// `None` while it has not finished.
pub(crate) fn final_value(status: &TaskStatus) -> Option<Value> {
    if !status.state.is_terminal() {
        return None;
    }
    if status.state == TaskState::Succeeded
        && let Some(result) = &status.result
    {
        return Some(json!({ "ok": serde_json::to_value(result).unwrap_or_default() }));
    }
    let why = status.error.as_ref().map_or_else(String::new, |e| format!(": {}: {}", e.kind, e.message));
    Some(json!({ "err": format!("task `{}` ({}) {}{why}", status.task, status.id, status.state) }))
}

/// The task's result from its recorded value, or its failure.
pub(crate) fn outcome<T: DeserializeOwned>(value: &Value) -> Result<T, WorkflowError> {
    if let Some(ok) = value.get("ok") {
        let payload: Payload = serde_json::from_value(ok.clone())
            .map_err(|e| WorkflowError::with_kind("task", format!("a recorded task result is malformed: {e}")))?;
        return codec::decode(&payload).map_err(|e| WorkflowError::with_kind("codec", e));
    }
    let why = value.get("err").and_then(Value::as_str).unwrap_or("the task failed");
    Err(WorkflowError::with_kind("task", why))
}

/// Resumes the run waiting for task `id` if the task has ended. Called by the
/// worker that recorded the end, and by the run after it suspended (in case
/// the task ended first); the store resolves the wait once.
pub(crate) async fn notify_if_final(stem: &Stem, id: TaskId) {
    match stem.backend().get(id).await {
        Ok(Some(status)) => notify(stem, &status).await,
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(task = %id, %error, "reading a called task's state failed; the run looks again later");
        }
    }
}

/// Resumes the run waiting for the task of `status`, if it has ended.
pub(crate) async fn notify(stem: &Stem, status: &TaskStatus) {
    let Some(value) = final_value(status) else { return };
    let now = stem.now();
    match stem.workflows().resolve_watchers(&topic(status.id), value, now, 16).await {
        Ok(resumed) => {
            if let Err(error) = super::resume::continue_runs(stem, resumed).await {
                tracing::warn!(task = %status.id, %error, "enqueueing a resumed run failed; the run is picked up later");
            }
        }
        Err(error) => {
            tracing::warn!(task = %status.id, %error, "resuming the run of a called task failed; it looks again later");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_marked_and_distinct() {
        let run = TaskId::new();
        let a = task_id(run, "stem.call:x#0");
        assert_eq!(a, task_id(run, "stem.call:x#0"));
        assert_ne!(a, task_id(run, "stem.call:x#1"));
        assert_ne!(a, task_id(TaskId::new(), "stem.call:x#0"));
        assert!(is_call(a));
        assert!(!is_call(TaskId::new()));
    }
}
