//! Graceful shutdown loses nothing and acks nothing that did not finish.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stem::prelude::*;
use stem::{TaskId, TaskState};
use stem_tests::{TestResult, WAIT, within};
use tokio::sync::Semaphore;

/// Runs per task id, across all tests of this file (ids are unique).
static RUNS: Mutex<Option<HashMap<TaskId, u32>>> = Mutex::new(None);

fn count_run(id: TaskId) {
    *RUNS.lock().expect("not poisoned").get_or_insert_with(HashMap::new).entry(id).or_default() += 1;
}

fn runs_of(ids: &[TaskId]) -> Vec<u32> {
    let runs = RUNS.lock().expect("not poisoned");
    ids.iter().map(|id| runs.as_ref().and_then(|r| r.get(id)).copied().unwrap_or(0)).collect()
}

static WARM_STARTED: Semaphore = Semaphore::const_new(0);

#[stem::task]
async fn steady(ctx: TaskContext) -> Result<(), TaskError> {
    count_run(ctx.id());
    WARM_STARTED.add_permits(1);
    tokio::time::sleep(Duration::from_millis(100)).await; // the work
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_shutdown_finishes_running_tasks_and_requeues_the_rest() -> TestResult {
    let stem = Stem::in_memory();
    let handles = stem.enqueue_many((0..20).map(|_| Steady::call(()))).await?;
    let ids: Vec<TaskId> = handles.iter().map(TaskHandle::id).collect();
    let worker = Worker::builder(&stem).task::<Steady>().concurrency(4).prefetch(8).build()?.spawn();
    within("four tasks to start", WARM_STARTED.acquire_many(4)).await?.forget();
    worker.stop(ShutdownMode::Warm).await?;

    let mut finished = 0;
    for handle in &handles {
        let state = handle.status().await?.expect("recorded").state;
        assert!(matches!(state, TaskState::Succeeded | TaskState::Queued), "{state:?}");
        finished += usize::from(state == TaskState::Succeeded);
    }
    assert!(finished >= 4, "the running tasks finished");
    assert_eq!(stem.queue_stats()?.inflight_count("default").await?, 0, "nothing is left leased");
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 20 - finished, "the rest is back in the queue");

    let worker = Worker::builder(&stem).task::<Steady>().concurrency(4).build()?.spawn();
    for handle in &handles {
        handle.wait_timeout(WAIT).await?;
    }
    assert_eq!(runs_of(&ids), vec![1; 20], "every task ran exactly once");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static SOFT_STARTED: Semaphore = Semaphore::const_new(0);
static STUCK: AtomicBool = AtomicBool::new(true);

#[stem::task]
async fn patient(ctx: TaskContext) -> Result<u32, TaskError> {
    count_run(ctx.id());
    SOFT_STARTED.add_permits(1);
    if STUCK.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    Ok(ctx.attempt())
}

#[tokio::test]
async fn soft_shutdown_cancels_running_tasks_and_requeues_them() -> TestResult {
    let stem = Stem::in_memory();
    let handles = stem.enqueue_many((0..3).map(|_| Patient::call(()))).await?;
    let ids: Vec<TaskId> = handles.iter().map(TaskHandle::id).collect();
    let worker = Worker::builder(&stem).task::<Patient>().concurrency(3).build()?.spawn();
    within("three tasks to start", SOFT_STARTED.acquire_many(3)).await?.forget();
    within("a soft shutdown", worker.stop(ShutdownMode::Soft)).await?;

    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 3, "all three are back in the queue");
    for handle in &handles {
        let status = handle.status().await?.expect("recorded");
        assert_eq!((status.state, status.task.as_str()), (TaskState::Queued, Patient::NAME));
    }
    STUCK.store(false, Ordering::SeqCst);
    let worker = Worker::builder(&stem).task::<Patient>().concurrency(3).build()?.spawn();
    for handle in &handles {
        assert_eq!(handle.wait_timeout(WAIT).await?, 0, "a requeue is not a retry");
    }
    assert_eq!(runs_of(&ids), vec![2; 3]);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static HARD_STARTED: Semaphore = Semaphore::const_new(0);

#[stem::task]
async fn stubborn(ctx: TaskContext) -> Result<(), TaskError> {
    count_run(ctx.id());
    HARD_STARTED.add_permits(1);
    // Work that never reaches an await point while it runs.
    std::thread::sleep(Duration::from_millis(1000));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_shutdown_requeues_at_once_and_acks_nothing() -> TestResult {
    let stem = Stem::in_memory();
    let handle = Stubborn::enqueue(&stem, ()).await?;
    let worker = Worker::builder(&stem).task::<Stubborn>().concurrency(1).build()?.spawn();
    within("the task to start", HARD_STARTED.acquire()).await?.forget();
    worker.shutdown(ShutdownMode::Soft);
    worker.shutdown(ShutdownMode::Hard);
    worker.join().await?;

    assert_eq!(handle.status().await?.map(|s| s.state), Some(TaskState::Queued), "not recorded as done");
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 1, "back in the queue, not acked");
    assert_eq!(stem.queue_stats()?.inflight_count("default").await?, 0);
    Ok(())
}
