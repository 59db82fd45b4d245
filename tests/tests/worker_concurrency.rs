//! Scheduling: the concurrency bound holds and higher priorities run first.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stem::prelude::*;
use stem_tests::{TestResult, WAIT};

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static MOST: AtomicUsize = AtomicUsize::new(0);

#[stem::task]
async fn busy() -> Result<(), TaskError> {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    MOST.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await; // the work
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_the_concurrency_run_at_once() -> TestResult {
    let stem = Stem::in_memory();
    let handles = stem.enqueue_many((0..40).map(|_| Busy::call(()))).await?;
    let worker = Worker::builder(&stem).task::<Busy>().concurrency(4).prefetch(10).build()?.spawn();
    for handle in &handles {
        handle.wait_timeout(WAIT).await?;
    }
    assert_eq!(MOST.load(Ordering::SeqCst), 4, "four ran at once, never more");
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

static ORDER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

#[stem::task]
async fn ranked(priority: u8) -> Result<(), TaskError> {
    ORDER.lock().expect("not poisoned").push(priority);
    Ok(())
}

#[tokio::test]
async fn higher_priorities_run_first_and_equal_ones_in_order() -> TestResult {
    let stem = Stem::in_memory();
    let priorities = [3u8, 0, 9, 5, 5, 1, 7, 9, 2];
    let mut handles = Vec::new();
    for p in priorities {
        handles.push(Ranked::call(p).priority(p).enqueue(&stem).await?);
    }
    let worker = Worker::builder(&stem).task::<Ranked>().concurrency(1).prefetch(1).build()?.spawn();
    for handle in &handles {
        handle.wait_timeout(WAIT).await?;
    }
    assert_eq!(*ORDER.lock().expect("not poisoned"), [9, 9, 7, 5, 5, 3, 2, 1, 0]);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}
