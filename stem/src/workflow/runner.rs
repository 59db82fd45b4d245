//! Executing runs: the built-in task `stem.workflow.run` that replays a run's
//! fn on an ordinary worker, and what its end writes.

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};

use futures_util::FutureExt;

use super::WorkflowContext;
use super::context::{Halt, run_time_exceeded};
use super::definition::{WorkflowOptions, linked};
use super::outcome::record_outcome;
use super::resume;
use super::run::{Finish, RunId, RunState, RunStatus};
use super::store::Checkpoint;
use crate::clock::after;
use crate::error::Result;
use crate::stem::Stem;
use crate::task::{Task, TaskContext, TaskError, TaskOptions};
use crate::worker::WorkerEvent;

/// The task that executes a workflow run: enqueued when a run starts and each
/// time it is resumed. Every worker with the linked registry runs it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunWorkflow;

impl Task for RunWorkflow {
    const NAME: &'static str = resume::EXECUTE;
    const OPTIONS: TaskOptions = resume::EXECUTE_OPTIONS;
    type Args = RunId;
    type Output = ();

    async fn run(ctx: TaskContext, run: RunId) -> Result<(), TaskError> {
        execute(&ctx, run).await
    }
}

/// Executes run `id` once: replays it up to its end or its next suspension.
///
/// One store call opens the run (reads it, claims it and reads its
/// checkpoints); the end is one more, and the run's state after it is known
/// without reading it back.
async fn execute(task: &TaskContext, id: RunId) -> Result<(), TaskError> {
    let stem = task.stem();
    let store = stem.workflows();
    let now = stem.synced_now().await?;
    let lease = claim_lease();
    let owner = format!("run-{}", uuid::Uuid::new_v4());
    let Some(opened) = store.open_run(id, &owner, now, after(now, lease)).await? else {
        return Err(TaskError::fail(format!("no workflow run {id} is known to the workflow store")));
    };
    let state = opened.state;
    let Some(checkpoints) = opened.checkpoints else {
        return match state.status {
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled => {
                record_outcome(stem, &state).await?;
                Ok(())
            }
            RunStatus::Suspended => Ok(()), // its timer or event enqueues it again
            RunStatus::Running => {
                let left = state.lease_until.map_or(lease, |t| (t - now).to_std().unwrap_or_default());
                Err(TaskError::retry_after(left + Duration::from_millis(50), "the run is held by another execution"))
            }
        };
    };
    // Dropped with this future (a stopping worker drops running tasks), the
    // guard releases the run, so that the next worker goes on at once
    // rather than after the lease.
    let mut held = Held { stem: stem.clone(), id, owner: owner.clone(), armed: true };
    let Some(registration) = linked().get(state.workflow.as_str()) else {
        // Another binary may know it: this message fails, the run is
        // released (by the guard) and is picked up again as a lost run.
        return Err(TaskError::fail(format!(
            "workflow `{}` (run {id}) is not linked into this worker's binary",
            state.workflow
        )));
    };
    let lease = registration.options().lease;
    if lease != claim_lease() && !store.renew_run(id, &owner, after(now, lease)).await? {
        held.armed = false;
        return Ok(()); // taken over meanwhile
    }
    if let Some(reason) = run_time_exceeded(&state.policy, state.created_at, now) {
        held.armed = false;
        return finish(task, &state, &owner, Vec::new(), Finish::Cancelled(reason)).await;
    }
    let wf = WorkflowContext::new(task.clone(), &state, owner.clone(), checkpoints);
    let run = match registration.execute(wf.clone(), state.args.clone()) {
        Ok(run) => run,
        Err(why) => {
            held.armed = false;
            return finish(task, &state, &owner, Vec::new(), Finish::Failed(why)).await;
        }
    };
    // The lease is renewed inside this future, not in a task of its own: when
    // the execution is dropped (a worker's hard stop), no renewal can follow,
    // not even one already woken on another thread; the lease runs out and
    // another worker takes the run over. A renewal ends only when the lease is
    // lost, and it halts the run first.
    let ended = tokio::select! {
        ended = AssertUnwindSafe(run).catch_unwind() => Some(ended),
        () = wf.halted().cancelled() => None,
        () = keep_lease(stem, &wf, &owner, lease) => None,
    };
    held.armed = false;
    let finish_with = match (wf.take_halt(), ended) {
        (Some(Halt::Suspended | Halt::LeaseLost), _) => return Ok(()),
        (Some(Halt::Store(error)), _) => {
            store.release_run(id, &owner).await.ok();
            return Err(TaskError::retry(format!("the workflow store failed: {error}")));
        }
        (Some(Halt::NonDeterminism(why)), _) => Finish::Failed(why),
        (Some(Halt::Cancelled(why)), _) => Finish::Cancelled(why),
        (None, Some(Ok(Ok(value)))) => Finish::Completed(value),
        (None, Some(Ok(Err(error)))) => Finish::Failed(error.message().to_owned()),
        (None, Some(Err(panic))) => {
            Finish::Failed(format!("the workflow fn panicked: {}", crate::panic::message(&*panic)))
        }
        (None, None) => return Ok(()),
    };
    // The checkpoints the fn recorded last are written with its end.
    finish(task, &state, &owner, wf.take_pending(), finish_with).await
}

/// The lease an execution claims its run with, before it knows the run's
/// workflow: the longest of the linked workflows' (the default if none is
/// linked). An execution whose workflow's lease is shorter renews it at once.
fn claim_lease() -> Duration {
    static LEASE: OnceLock<Duration> = OnceLock::new();
    *LEASE.get_or_init(|| linked().values().map(|w| w.options().lease).max().unwrap_or(WorkflowOptions::DEFAULT.lease))
}

/// The run as `finish_run` left it, known without reading it back.
fn ended(state: &RunState, how: Finish, now: DateTime<Utc>) -> RunState {
    let mut ended = state.clone();
    ended.status = how.status();
    (ended.result, ended.error) = match how {
        Finish::Completed(value) => (Some(value), None),
        Finish::Failed(error) | Finish::Cancelled(error) => (None, Some(error)),
    };
    (ended.wait_topic, ended.resume_at, ended.suspended_at, ended.owner, ended.lease_until) =
        (None, None, None, None, None);
    ended.updated_at = now;
    ended
}

/// A claimed run, released if its execution is dropped before it ends.
struct Held {
    stem: Stem,
    id: RunId,
    owner: String,
    armed: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.armed {
            let (stem, id, owner) = (self.stem.clone(), self.id, std::mem::take(&mut self.owner));
            self.stem.spawn_cleanup(async move {
                if let Err(error) = stem.workflows().release_run(id, &owner).await {
                    tracing::warn!(run = %id, %error, "releasing a dropped run failed; it goes on after its lease");
                }
            });
        }
    }
}

/// Renews the run's lease while it executes; when the lease is lost, halts
/// the execution and returns.
async fn keep_lease(stem: &Stem, wf: &WorkflowContext, owner: &str, lease: Duration) {
    let every = (lease / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        let until = after(stem.now(), lease);
        match stem.workflows().renew_run(wf.id(), owner, until).await {
            Ok(true) => {}
            Ok(false) => return wf.stop(Halt::LeaseLost),
            Err(error) => tracing::warn!(run = %wf.id(), %error, "renewing a run's lease failed; trying again"),
        }
    }
}

/// Ends the run in the store as its `owner`, writing the checkpoints the
/// execution has not written yet with the end, and records the end for
/// waiting handles.
async fn finish(
    task: &TaskContext,
    state: &RunState,
    owner: &str,
    checkpoints: Vec<Checkpoint>,
    how: Finish,
) -> Result<(), TaskError> {
    let stem = task.stem();
    let now = stem.now();
    let finished = stem.workflows().finish_run_after(state.id, owner, checkpoints, how.clone(), now).await?;
    if finished {
        let ended = ended(state, how, now);
        task.emit(WorkerEvent::RunEnded { run: ended.id, workflow: ended.workflow.clone(), status: ended.status });
        if ended.status == RunStatus::Failed {
            tracing::warn!(run = %ended.id, workflow = %ended.workflow, error = ended.error.as_deref().unwrap_or_default(), "workflow run failed");
        }
        record_outcome(stem, &ended).await?;
    }
    Ok(())
}
