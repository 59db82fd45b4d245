//! Retries: backoff, explicit retry-after, fail-now, exhaustion to the dead letter queue.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use stem::prelude::*;
use stem::{Error, TaskState};
use stem_tests::{TestResult, WAIT, spawn_worker};

static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task(max_retries = 3, retry_backoff = "10ms", retry_jitter = false)]
async fn flaky(ctx: TaskContext) -> Result<u32, TaskError> {
    FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
    if ctx.attempt() < 2 { Err(TaskError::retry("not yet")) } else { Ok(ctx.attempt()) }
}

#[tokio::test]
async fn a_task_retries_then_succeeds() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Flaky>());
    let attempt = Flaky::enqueue(&stem, ()).await?.wait_timeout(WAIT).await?;
    assert_eq!(attempt, 2, "succeeded on the third attempt");
    assert_eq!(FLAKY_RUNS.load(Ordering::SeqCst), 3);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static DOOMED_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task(max_retries = 2, retry_backoff = "5ms")]
async fn doomed() -> Result<(), std::io::Error> {
    DOOMED_RUNS.fetch_add(1, Ordering::SeqCst);
    Err(std::io::Error::other("disk on fire"))
}

#[tokio::test]
async fn exhausted_retries_go_to_the_dead_letter_queue_with_the_last_error() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Doomed>());
    let handle = Doomed::enqueue(&stem, ()).await?;
    let Err(Error::TaskFailed(failure)) = handle.wait_timeout(WAIT).await else { panic!("the task must fail") };
    assert_eq!(failure.state, TaskState::Failed);
    assert_eq!(failure.attempt, 2);
    let error = failure.error.expect("the error is recorded");
    assert_eq!(error.kind, "std::io::error::Error");
    assert_eq!(error.message, "disk on fire");
    assert_eq!(DOOMED_RUNS.load(Ordering::SeqCst), 3);

    let dead = stem_tests::dead_letter(&stem, "default", handle.id()).await;
    assert_eq!(dead.reason, "retries exhausted after 3 attempts: std::io::error::Error: disk on fire");
    assert_eq!(dead.envelope.attempt, 2);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static REFUSED_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task(max_retries = 5)]
async fn refuses(input: String) -> Result<(), TaskError> {
    REFUSED_RUNS.fetch_add(1, Ordering::SeqCst);
    Err(TaskError::fail(format!("cannot handle {input:?}")))
}

#[tokio::test]
async fn fail_now_skips_the_remaining_retries() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Refuses>());
    let handle = Refuses::enqueue(&stem, "junk".to_owned()).await?;
    let Err(Error::TaskFailed(failure)) = handle.wait_timeout(WAIT).await else { panic!("the task must fail") };
    assert_eq!(failure.attempt, 0);
    assert_eq!(REFUSED_RUNS.load(Ordering::SeqCst), 1);
    let dead = stem_tests::dead_letter(&stem, "default", handle.id()).await;
    assert_eq!(dead.reason, "failed without retry: fail: cannot handle \"junk\"");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[stem::task(max_retries = 1)]
async fn later(ctx: TaskContext) -> Result<u32, TaskError> {
    if ctx.attempt() == 0 {
        return Err(TaskError::retry_after(Duration::from_millis(200), "come back later"));
    }
    Ok(ctx.attempt())
}

#[tokio::test]
async fn retry_after_waits_the_given_delay() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<Later>());
    let started = Instant::now();
    let handle = Later::enqueue(&stem, ()).await?;
    assert_eq!(handle.wait_timeout(WAIT).await?, 1);
    assert!(started.elapsed() >= Duration::from_millis(200), "retried after {:?}", started.elapsed());
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static REPLAYED_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task(max_retries = 0)]
async fn fails_once() -> Result<u32, TaskError> {
    match REPLAYED_RUNS.fetch_add(1, Ordering::SeqCst) {
        0 => Err(TaskError::retry("first run fails")),
        n => Ok(n),
    }
}

#[tokio::test]
async fn a_replayed_dead_letter_runs_again_and_its_result_is_stored() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<FailsOnce>());
    let handle = FailsOnce::enqueue(&stem, ()).await?;
    assert!(matches!(handle.wait_timeout(WAIT).await, Err(Error::TaskFailed(_))));
    worker.stop(ShutdownMode::Warm).await?;

    let replay = stem.replay_dead_letters("default", &Default::default()).await?;
    assert_eq!(replay.entries.len(), 1);
    assert_eq!(handle.status().await?.map(|s| s.state), Some(TaskState::Queued));
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 1);

    let worker = Worker::builder(&stem).task::<FailsOnce>().build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, 1, "the replayed run succeeded");
    assert_eq!(REPLAYED_RUNS.load(Ordering::SeqCst), 2);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}
