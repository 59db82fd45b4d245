//! Short tasks run inline in the worker's consume loop; a task that turns out
//! to block goes back to its own tokio tasks, so it cannot serialize the worker.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use stem::prelude::*;
use stem_tests::{TestResult, WAIT};

/// When each slow run started.
static SLOW_STARTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

/// Returns at once for 0; otherwise blocks its thread for `ms` without an await.
#[stem::task]
async fn sometimes_slow(ms: u64) -> Result<u64, TaskError> {
    if ms > 0 {
        SLOW_STARTS.lock().expect("not poisoned").push(Instant::now());
        std::thread::sleep(Duration::from_millis(ms));
    }
    Ok(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_blocks_once_runs_concurrently_afterwards() -> TestResult {
    let stem = Stem::in_memory();
    let worker = Worker::builder(&stem).task::<SometimesSlow>().concurrency(2).build()?.spawn();

    // Quick runs teach the worker to run this task inline.
    for handle in stem.enqueue_many((0..200).map(|_| SometimesSlow::call(0))).await? {
        assert_eq!(handle.wait_timeout(WAIT).await?, 0);
    }
    // One blocking run (inline, so it holds up the loop once) makes it go back.
    assert_eq!(SometimesSlow::enqueue(&stem, 50).await?.wait_timeout(WAIT).await?, 50);

    // Two blocking runs now start together, each in its own tokio task.
    SLOW_STARTS.lock().expect("not poisoned").clear();
    let pair = stem.enqueue_many([SometimesSlow::call(400), SometimesSlow::call(400)]).await?;
    for handle in pair {
        assert_eq!(handle.wait_timeout(WAIT).await?, 400);
    }
    let starts = SLOW_STARTS.lock().expect("not poisoned").clone();
    assert_eq!(starts.len(), 2);
    let apart = starts[1].saturating_duration_since(starts[0]);
    assert!(apart < Duration::from_millis(300), "the second blocking run waited for the first: {apart:?} apart");

    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}
