//! A worker stopped softly (SIGINT) while a workflow run is in a step
//! releases the run: the next worker goes on at once, not after the run's
//! lease (30 s by default).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stem::WorkerHandle;
use stem::prelude::*;
use stem::workflow::RunStatus;
use stem_tests::{TestResult, WAIT, within};

/// Runs of the slow step, and whether it should be slow.
static STARTS: AtomicU32 = AtomicU32::new(0);

#[stem::workflow]
async fn long_step(wf: WorkflowContext) -> Result<u32, WorkflowError> {
    let n = wf
        .step("work", || async {
            // The first run of the step outlasts the test; the next is quick.
            if STARTS.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok::<_, StepError>(7)
        })
        .await?;
    Ok(n)
}

fn worker(stem: &Stem) -> stem::Result<WorkerHandle> {
    Ok(Worker::builder(stem).handle_signals(false).build()?.spawn())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_stop_mid_step_releases_the_run() -> TestResult {
    let stem = Stem::in_memory();
    let first = worker(&stem)?;
    let run = LongStep::start(&stem, ()).await?;
    within("the step to start", async {
        while STARTS.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    within("a soft stop", first.stop(ShutdownMode::Soft)).await?;
    let second = worker(&stem)?;
    // Well within the run's 30 s lease.
    assert_eq!(run.wait_timeout(WAIT).await?, 7);
    assert_eq!(run.status().await?.map(|s| s.status), Some(RunStatus::Completed));
    assert_eq!(STARTS.load(Ordering::SeqCst), 2, "the step ran again on the second worker");
    second.stop(ShutdownMode::Warm).await?;
    Ok(())
}
