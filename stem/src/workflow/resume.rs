//! Executions of runs: the message that makes a worker execute a run (the
//! task `stem.workflow.run`, whose argument is the run's id), enqueued when a
//! run starts, is resumed by a timer, an event or a called task's end, is
//! rewound, or is found lost. The task that runs it is in `runner.rs`.

use super::run::RunId;
use super::store::Resumed;
use crate::codec::{self, Json};
use crate::envelope::Envelope;
use crate::error::Result;
use crate::stem::Stem;
use crate::task::TaskOptions;

/// The name of the task that executes a run.
pub(crate) const EXECUTE: &str = "stem.workflow.run";

/// Its options: an execution whose store fails is retried, up to ten times.
pub(crate) const EXECUTE_OPTIONS: TaskOptions = {
    let mut o = TaskOptions::DEFAULT;
    o.max_retries = 10;
    o.track_started = false; // the run's own status says it runs
    o.ignore_result = true; // and holds its result
    o
};

/// The message that executes `run` on `queue`.
fn execution(run: RunId, queue: String) -> Result<Envelope> {
    let mut envelope = Envelope::new(EXECUTE, queue, codec::encode(<Json as codec::Codec>::ID, &run)?);
    envelope.max_retries = EXECUTE_OPTIONS.max_retries;
    envelope.mark_ignores_result();
    Ok(envelope)
}

/// Enqueues an execution of `run` on `queue`.
pub(crate) async fn execute(stem: &Stem, run: RunId, queue: String) -> Result<()> {
    stem.enqueue_envelope(execution(run, queue)?).await.map(drop)
}

/// Enqueues an execution of each resumed run on its queue, in one batch.
pub(crate) async fn continue_runs(stem: &Stem, resumed: Vec<Resumed>) -> Result<()> {
    if resumed.is_empty() {
        return Ok(());
    }
    let executions = resumed.into_iter().map(|r| execution(r.run, r.queue)).collect::<Result<Vec<_>>>()?;
    stem.enqueue_envelopes(executions).await.map(drop)
}
