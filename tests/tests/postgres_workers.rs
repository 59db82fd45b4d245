//! Several workers, each with its own connection pool (as separate processes
//! would have), share one queue on Postgres: every task runs exactly once and
//! every result is stored; retries and dead letters work through Postgres too.

use std::collections::HashMap;
use std::sync::Mutex;

use stem::prelude::*;
use stem::{TaskId, TaskState};
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::{TestResult, WAIT, postgres_url};

/// Runs per task id.
static RUNS: Mutex<Option<HashMap<TaskId, u32>>> = Mutex::new(None);

#[stem::task]
async fn square(ctx: TaskContext, n: u64) -> Result<u64, TaskError> {
    *RUNS.lock().expect("not poisoned").get_or_insert_with(HashMap::new).entry(ctx.id()).or_default() += 1;
    tokio::task::yield_now().await;
    Ok(n * n)
}

#[stem::task(max_retries = 1, retry_backoff = "10ms", retry_jitter = false)]
async fn always_fails() -> Result<(), TaskError> {
    Err(TaskError::retry("no luck"))
}

async fn open(url: &str, schema: &str) -> stem::Result<PostgresStore> {
    PostgresStore::connect_with(PostgresOptions::new(url).with_schema(schema).with_max_connections(3)).await
}

async fn store(url: &str, schema: &str) -> stem::Result<Stem> {
    let store = open(url, schema).await?;
    Ok(Stem::with_locks(store.broker(), store.backend(), store.locks()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_a_queue_and_run_each_task_once() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let namespace = format!("test_workers_{:08x}", fastrand::u32(..));
    let producer = store(&url, &namespace).await?;
    let mut workers = Vec::new();
    for _ in 0..3 {
        let stem = store(&url, &namespace).await?;
        let worker = Worker::builder(&stem).task::<Square>().concurrency(4).prefetch(4).handle_signals(false);
        workers.push(worker.build()?.spawn());
    }
    let handles = producer.enqueue_many((0..300).map(Square::call)).await?;
    for (n, handle) in handles.iter().enumerate() {
        assert_eq!(handle.wait_timeout(WAIT).await?, (n * n) as u64);
    }
    for worker in workers {
        worker.stop(ShutdownMode::Warm).await?;
    }
    let runs = RUNS.lock().expect("not poisoned").clone().unwrap_or_default();
    let extra: Vec<_> = handles.iter().filter(|h| runs.get(&h.id()) != Some(&1)).map(TaskHandle::id).collect();
    assert!(extra.is_empty(), "tasks that did not run exactly once: {extra:?}");
    assert_eq!(
        producer.broker().pending_count("default").await? + producer.broker().inflight_count("default").await?,
        0
    );
    open(&url, &namespace).await?.drop_schema().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_end_in_the_dead_letter_queue_on_postgres() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let namespace = format!("test_retry_{:08x}", fastrand::u32(..));
    let stem = store(&url, &namespace).await?;
    let worker = Worker::builder(&stem).task::<AlwaysFails>().handle_signals(false).build()?.spawn();
    let handle = AlwaysFails::enqueue(&stem, ()).await?;
    // The retry is due 10 ms after the first failure; a worker blocked waiting
    // for new messages must notice it then, not when its wait (5 s) ends.
    let error = handle.wait_timeout(std::time::Duration::from_secs(2)).await.expect_err("it fails");
    assert!(error.to_string().contains("no luck"), "{error}");
    let status = handle.status().await?.expect("recorded");
    assert_eq!((status.state, status.attempt), (TaskState::Failed, 1), "one retry, then failed");
    let dead = stem.broker().get_dead_letter("default", handle.id()).await?.expect("dead-lettered");
    assert!(dead.reason.starts_with("retries exhausted after 2 attempts"), "{}", dead.reason);
    worker.stop(ShutdownMode::Warm).await?;
    open(&url, &namespace).await?.drop_schema().await?;
    Ok(())
}
