//! Leases: a delivery not acked before its lease ends is delivered again; a
//! running task keeps its lease alive; a stale holder cannot settle.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use stem::broker::ReceiveRequest;
use stem::prelude::*;
use stem::{Error, TaskState};
use stem_tests::{TestResult, WAIT};

#[stem::task]
async fn echo(text: String) -> Result<String, TaskError> {
    Ok(text)
}

fn request(lease: Duration) -> ReceiveRequest {
    ReceiveRequest {
        queues: vec!["default".to_owned()],
        max: 1,
        lease,
        wait: Duration::from_secs(1),
        consumer: "crashed".to_owned(),
    }
}

#[tokio::test]
async fn a_delivery_whose_lease_ends_is_delivered_again() -> TestResult {
    let stem = Stem::in_memory();
    let handle = Echo::enqueue(&stem, "again".to_owned()).await?;
    // A consumer takes the task and dies without acking.
    let taken = stem.broker().receive(&request(Duration::from_millis(200))).await?;
    assert_eq!(taken.len(), 1);

    let worker = Worker::builder(&stem).task::<Echo>().build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, "again");
    let status = handle.status().await?.expect("recorded");
    assert_eq!((status.state, status.attempt, status.fence), (TaskState::Succeeded, 0, 2));

    // The dead consumer's receipt is stale now: it can neither ack nor extend.
    let stale = &taken[0].receipt;
    assert!(matches!(stem.broker().ack(stale).await, Err(Error::LeaseLost(_))));
    assert!(matches!(stem.broker().extend_lease(stale, Duration::from_secs(1)).await, Err(Error::LeaseLost(_))));
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static SLOW_RUNS: AtomicU32 = AtomicU32::new(0);

#[stem::task]
async fn slow() -> Result<u32, TaskError> {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await; // the work outlives several leases
    Ok(SLOW_RUNS.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_running_task_keeps_its_lease_alive() -> TestResult {
    let stem = Stem::in_memory();
    let lease = Duration::from_millis(100);
    let first = Worker::builder(&stem).task::<Slow>().lease(lease).build()?.spawn();
    let handle = Slow::enqueue(&stem, ()).await?;
    // A second worker would take the task if its lease ever lapsed.
    let second = Worker::builder(&stem).task::<Slow>().lease(lease).build()?.spawn();
    assert_eq!(handle.wait_timeout(WAIT).await?, 1, "ran once");
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 1);
    first.stop(ShutdownMode::Warm).await?;
    second.stop(ShutdownMode::Warm).await?;
    Ok(())
}

#[tokio::test]
async fn a_stale_status_write_is_refused_by_its_fence() -> TestResult {
    let stem = Stem::in_memory();
    let handle = Echo::enqueue(&stem, "x".to_owned()).await?;
    let mut newer = handle.status().await?.expect("queued");
    newer.state = TaskState::Started;
    newer.fence = 2;
    assert!(stem.backend().set(newer.clone()).await?);
    let mut stale = newer;
    stale.state = TaskState::Succeeded;
    stale.fence = 1;
    assert!(!stem.backend().set(stale).await?, "a lower fence is refused");
    assert_eq!(handle.status().await?.map(|s| s.state), Some(TaskState::Started));
    Ok(())
}
