//! On the networked stores (Redis, Postgres), several workers, each with its
//! own connections as separate processes would have, share one queue: every
//! task runs exactly once and every result is stored; retries end in the dead
//! letter queue, and a retry due soon wakes a worker that waits for messages.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use stem::prelude::*;
use stem::{TaskId, TaskState};
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, WAIT, postgres_url, redis_url};

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

/// Three workers, each on a `Stem` of its own from `open`, drain 300 tasks.
async fn three_workers_share_a_queue<F, Fut>(open: F) -> TestResult
where
    F: Fn() -> Fut,
    Fut: Future<Output = stem::Result<Stem>>,
{
    let producer = open().await?;
    let mut workers = Vec::new();
    for _ in 0..3 {
        let stem = open().await?;
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
        producer.queue_stats()?.pending_count("default").await?
            + producer.queue_stats()?.inflight_count("default").await?,
        0
    );
    Ok(())
}

/// One retry, then the dead letter queue; the retry, due 10 ms after the first
/// failure, must wake the worker then, not when its 5 s wait for messages ends.
async fn retries_end_in_the_dead_letter_queue(stem: Stem) -> TestResult {
    let worker = Worker::builder(&stem).task::<AlwaysFails>().handle_signals(false).build()?.spawn();
    let handle = AlwaysFails::enqueue(&stem, ()).await?;
    let error = handle.wait_timeout(Duration::from_secs(2)).await.expect_err("it fails");
    assert!(error.to_string().contains("no luck"), "{error}");
    let status = handle.status().await?.expect("recorded");
    assert_eq!((status.state, status.attempt), (TaskState::Failed, 1), "one retry, then failed");
    let dead = stem_tests::dead_letter(&stem, "default", handle.id()).await;
    assert!(dead.reason.starts_with("retries exhausted after 2 attempts"), "{}", dead.reason);
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

fn namespace(what: &str) -> String {
    format!("test_{what}_{:08x}", fastrand::u32(..))
}

async fn redis(url: &str, namespace: &str) -> stem::Result<RedisStore> {
    RedisStore::connect_with(RedisOptions::new(url).with_namespace(namespace)).await
}

async fn postgres(url: &str, schema: &str) -> stem::Result<PostgresStore> {
    PostgresStore::connect_with(PostgresOptions::new(url).with_schema(schema).with_max_connections(3)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_workers_share_a_queue() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let ns = namespace("workers");
    three_workers_share_a_queue(|| async { redis(&url, &ns).await.map(|s| Stem::new(s.stores())) }).await?;
    redis(&url, &ns).await?.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_retries_end_in_the_dead_letter_queue() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let store = redis(&url, &namespace("retry")).await?;
    retries_end_in_the_dead_letter_queue(Stem::new(store.stores())).await?;
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_workers_share_a_queue() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let schema = namespace("workers");
    three_workers_share_a_queue(|| async { postgres(&url, &schema).await.map(|s| Stem::new(s.stores())) }).await?;
    postgres(&url, &schema).await?.drop_schema().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_retries_end_in_the_dead_letter_queue() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let store = postgres(&url, &namespace("retry")).await?;
    retries_end_in_the_dead_letter_queue(Stem::new(store.stores())).await?;
    store.drop_schema().await?;
    Ok(())
}
