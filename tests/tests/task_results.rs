//! Typed enqueue and typed results through the macro, the worker and the
//! in-memory stores.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stem::canvas::chain;
use stem::prelude::*;
use stem::{Error, TaskState, WorkerHandle};
use stem_tests::{TestResult, WAIT, every_store, spawn_worker, until_ok};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Receipt {
    to: String,
    id: u64,
}

#[stem::task(queue = "emails")]
async fn send_email(ctx: TaskContext, to: String, subject: String) -> Result<Receipt, TaskError> {
    ctx.progress_with(0.5, "halfway").await?;
    Ok(Receipt { to, id: subject.len() as u64 })
}

#[stem::task]
async fn double(n: u64) -> Result<u64, std::num::TryFromIntError> {
    u64::try_from(u128::from(n) * 2)
}

#[stem::task(name = "tests.ping")]
async fn ping() -> Result<String, TaskError> {
    Ok("pong".to_owned())
}

/// A task whose success nobody reads.
#[stem::task(ignore_result = true, max_retries = 0)]
async fn fire_and_forget(fail: bool) -> Result<u64, TaskError> {
    if fail { Err(TaskError::fail("asked to fail")) } else { Ok(7) }
}

/// Fails its first attempt, then succeeds with its attempt's number.
#[stem::task(ignore_result = true, max_retries = 1)]
async fn retried_quietly(ctx: TaskContext) -> Result<u64, TaskError> {
    match ctx.attempt() {
        0 => Err(TaskError::retry_after(Duration::from_millis(10), "once more")),
        n => Ok(u64::from(n) + 1),
    }
}

/// Runs of [`quiet_limited`].
static QUIET_RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Rate-limited, so that some of its deliveries are deferred.
#[stem::task(ignore_result = true, rate_limit = "4/s")]
async fn quiet_limited(n: u64) -> Result<u64, TaskError> {
    QUIET_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(n)
}

fn worker() -> (Stem, WorkerHandle) {
    spawn_worker(|b| b.task::<SendEmail>().task::<Double>().task::<Ping>().concurrency(4))
}

#[tokio::test]
async fn a_task_returns_its_own_type() -> TestResult {
    let (stem, worker) = worker();
    let args = SendEmailArgs { to: "ada@example.com".to_owned(), subject: "hello".to_owned() };
    let handle: TaskHandle<Receipt> = SendEmail::enqueue(&stem, args).await?;
    let receipt = handle.wait_timeout(WAIT).await?;
    assert_eq!(receipt, Receipt { to: "ada@example.com".to_owned(), id: 5 });

    let status = handle.status().await?.expect("status is recorded");
    assert_eq!(status.state, TaskState::Succeeded);
    assert_eq!(status.queue, "emails");
    assert_eq!(status.task, "task_results::send_email");
    assert_eq!(status.attempt, 0);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn one_argument_is_used_as_is_and_none_is_unit() -> TestResult {
    let (stem, worker) = worker();
    let doubled: u64 = Double::enqueue(&stem, 21).await?.wait_timeout(WAIT).await?;
    assert_eq!(doubled, 42);
    let pong: String = Ping::enqueue(&stem, ()).await?.wait_timeout(WAIT).await?;
    assert_eq!(pong, "pong");
    assert_eq!(Ping::NAME, "tests.ping");
    assert_eq!(Double::NAME, "task_results::double");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn enqueue_many_batches_and_every_result_comes_back() -> TestResult {
    let (stem, worker) = worker();
    let handles = stem.enqueue_many((0..500).map(Double::call)).await?;
    for (n, handle) in handles.iter().enumerate() {
        assert_eq!(handle.wait_timeout(WAIT).await?, 2 * n as u64);
    }
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn a_countdown_delays_delivery_and_is_not_pending_meanwhile() -> TestResult {
    let stem = Stem::in_memory();
    let started = Instant::now();
    let handle = Double::call(1).countdown(Duration::from_millis(300)).enqueue(&stem).await?;
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 0, "a delayed task is not pending");
    assert_eq!(handle.status().await?.map(|s| s.state), Some(TaskState::Queued));

    let worker = Worker::builder(&stem).task::<Double>().build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, 2);
    assert!(started.elapsed() >= Duration::from_millis(300), "ran after {:?}", started.elapsed());
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn an_expired_task_is_recorded_and_not_run() -> TestResult {
    let (stem, worker) = worker();
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let handle = SendEmail::call(SendEmailArgs { to: "x".to_owned(), subject: "y".to_owned() })
        .expires(past)
        .enqueue(&stem)
        .await?;
    match handle.wait_timeout(WAIT).await {
        Err(Error::TaskFailed(failure)) => {
            assert_eq!(failure.state, TaskState::Expired);
            assert_eq!(failure.error.map(|e| e.kind).as_deref(), Some("expired"));
        }
        other => panic!("expected an expired task, got {other:?}"),
    }
    assert_eq!(stem.queue_stats()?.inflight_count("emails").await?, 0, "the expired delivery was acked");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn waiting_ends_at_the_deadline_when_nothing_runs() -> TestResult {
    let stem = Stem::in_memory();
    let handle = Double::enqueue(&stem, 1).await?;
    match handle.wait_timeout(Duration::from_millis(50)).await {
        Err(Error::Timeout { id, .. }) => assert_eq!(id, handle.id()),
        other => panic!("expected a timeout, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_handle_can_be_rebuilt_from_an_id() -> TestResult {
    let (stem, worker) = worker();
    let id = Double::call(5).task_id(stem::TaskId::new()).enqueue(&stem).await?.id();
    let again: TaskHandle<u64> = stem.handle(id);
    assert_eq!(again.wait_timeout(WAIT).await?, 10);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn a_task_enqueues_follow_up_tasks() -> TestResult {
    #[stem::task]
    async fn parent(ctx: TaskContext) -> Result<stem::TaskId, TaskError> {
        let child = ctx.enqueue(Ping::call(())).await?;
        Ok(child.id())
    }
    let (stem, worker) = spawn_worker(|b| b.task::<Parent>().task::<Ping>());
    let parent = Parent::enqueue(&stem, ()).await?;
    let child_id = parent.wait_timeout(WAIT).await?;
    let child: TaskHandle<String> = stem.handle(child_id);
    assert_eq!(child.wait_timeout(WAIT).await?, "pong");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

/// `ignore_result`: a success records nothing and its enqueue no queued
/// record (its delivery is acked all the same), a failure is recorded and
/// dead-lettered, a success after a retry is recorded over the retry's
/// status, and a success a chain goes on from is recorded, so that the chain
/// goes on. On every store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_ignores_its_result_records_no_success() -> TestResult {
    for env in every_store("ignore_result").await {
        let (stem, label) = (&env.stem, env.label);
        let worker = Worker::builder(stem)
            .task::<FireAndForget>()
            .task::<RetriedQuietly>()
            .task::<Double>()
            .handle_signals(false)
            .build()?
            .spawn();
        let quiet = FireAndForget::enqueue(stem, false).await?;
        if label == "memory" || label == "sqlite" {
            // Where the queued record is kept apart from the message, none is written
            // (Redis and Postgres read it from the message while there is one).
            assert_eq!(quiet.status().await?.map(|s| s.state), None, "{label}: no queued record");
        }
        let failed = FireAndForget::enqueue(stem, true).await?;
        assert!(matches!(failed.wait_timeout(WAIT).await, Err(Error::TaskFailed(_))), "{label}: a failure is recorded");
        stem_tests::dead_letter(stem, "default", failed.id()).await;
        let retried = RetriedQuietly::enqueue(stem, ()).await?;
        assert_eq!(retried.wait_timeout(WAIT).await?, 2, "{label}: a success after a retry is recorded");
        until_ok("the three deliveries to be settled", || async {
            if worker.finished() >= 4 { Ok(()) } else { Err("not yet") }
        })
        .await;
        assert_eq!(quiet.status().await?, None, "{label}: a success records nothing");
        let queued = stem.queue_stats()?;
        assert_eq!(
            (queued.pending_count("default").await?, queued.inflight_count("default").await?),
            (0, 0),
            "{label}"
        );

        let chained = chain(FireAndForget::call(false)).then(Double::link()).enqueue(stem).await?;
        assert_eq!(chained.wait_timeout(WAIT).await?, 14, "{label}: the chain goes on from the unrecorded task");
        worker.stop(ShutdownMode::Warm).await?;
        env.clean().await?;
    }
    Ok(())
}

/// A delivery of a task that ignores its result, deferred by its rate limit,
/// is put back without a status, and its success records none either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_task_that_ignores_its_result_records_nothing() -> TestResult {
    let (stem, worker) = spawn_worker(|b| b.task::<QuietLimited>().handle_signals(false));
    let handles = stem.enqueue_many((0..8).map(QuietLimited::call)).await?;
    until_ok("the eight runs", || async {
        let runs = QUIET_RUNS.load(std::sync::atomic::Ordering::SeqCst);
        if runs >= 8 && worker.finished() >= 8 { Ok(()) } else { Err("not yet") }
    })
    .await;
    for handle in &handles {
        assert_eq!(handle.status().await?, None, "no status: not queued, not deferred, not succeeded");
    }
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}
