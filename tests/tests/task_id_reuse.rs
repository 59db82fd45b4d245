//! A task id used again (`Signature::task_id`) after its first run ended:
//! the new run's tokens start above every token of the old run, so its writes
//! are accepted at once and it runs once, on every store.

use std::sync::atomic::{AtomicU32, Ordering};

use stem::prelude::*;
use stem::{TaskId, TaskState};
use stem_tests::{TestResult, every_store, until_ok};

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
        Counted::call(2).task_id(id).enqueue(&stem).await?;
        // The queued record of the new run loses to the old run's fence, so
        // the store is watched for the new result rather than waited on.
        until_ok("the second run's result", || async {
            match stem.backend().get(id).await {
                Ok(Some(status)) if status.state == TaskState::Succeeded && status.attempt == 0 => {
                    let n: u32 =
                        stem::codec::decode(status.result.as_ref().ok_or("no result")?).map_err(|_| "undecodable")?;
                    if n == 2 { Ok(()) } else { Err("the old result") }
                }
                _ => Err("not yet"),
            }
        })
        .await;
        worker.stop(ShutdownMode::Warm).await?;
        assert_eq!(SECOND_RUNS.load(Ordering::SeqCst), 1, "{label}: the second use of the id ran once");
        env.clean().await?;
    }
    Ok(())
}
