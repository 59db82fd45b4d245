//! A task id used again (`Signature::task_id`) after its first run ended:
//! the new run's tokens start above every token of the old run, so its writes
//! are accepted at once and it runs once, on every store; its handle reads
//! the new run only, never the old result.

use std::sync::atomic::{AtomicU32, Ordering};

use stem::prelude::*;
use stem::{TaskId, TaskState};
use stem_tests::{TestResult, WAIT, every_store};

/// Runs of `counted` with argument 2 (the second use of the id).
static SECOND_RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails its first attempt (so that the first run takes two deliveries and
/// its record a higher fence), returns its argument.
#[stem::task(max_retries = 3, retry_backoff = "5ms", retry_jitter = false)]
async fn counted(ctx: TaskContext, n: u32) -> Result<u32, TaskError> {
    if n == 2 {
        SECOND_RUNS.fetch_add(1, Ordering::SeqCst);
    } else if ctx.attempt() == 0 {
        return Err(TaskError::retry("the first attempt fails"));
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_task_id_runs_once_and_its_result_is_kept() -> TestResult {
    for env in every_store("id-reuse").await {
        let (label, stem) = (env.label, env.stem.clone());
        SECOND_RUNS.store(0, Ordering::SeqCst);
        let worker = Worker::builder(&stem).task::<Counted>().handle_signals(false).build()?.spawn();
        let id = TaskId::new();
        let first = Counted::call(1).task_id(id).enqueue(&stem).await?;
        assert_eq!(first.wait().await?, 1, "{label}");
        let second = Counted::call(2).task_id(id).enqueue(&stem).await?;
        // The first run's record is not the second's: until the second run
        // writes, its handle reads queued (or its own state), never the old result.
        let seen = second.status().await?.expect("known");
        if seen.state == TaskState::Succeeded {
            let n: u32 = stem::codec::decode(seen.result.as_ref().expect("a result"))?;
            assert_eq!(n, 2, "{label}: the new handle read the old run's result");
        }
        assert_eq!(second.wait_timeout(WAIT).await?, 2, "{label}: the new handle waits for the new run");
        worker.stop(ShutdownMode::Warm).await?;
        assert_eq!(SECOND_RUNS.load(Ordering::SeqCst), 1, "{label}: the second use of the id ran once");
        env.clean().await?;
    }
    Ok(())
}
