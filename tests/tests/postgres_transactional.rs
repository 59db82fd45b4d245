//! Enqueueing inside the caller's Postgres transaction: the task runs if the
//! transaction commits, and never exists if it rolls back.

use stem::prelude::*;
use stem_adapters::postgres::{EnqueueInTransaction, PostgresOptions, PostgresStore};
use stem_tests::{TestResult, WAIT, postgres_url};

#[stem::task]
async fn greet(name: String) -> Result<String, TaskError> {
    Ok(format!("hello, {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_enqueued_in_a_transaction_exists_only_if_it_commits() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let schema = format!("test_tx_{:08x}", fastrand::u32(..));
    let store = PostgresStore::connect_with(PostgresOptions::new(&url).with_schema(&schema)).await?;
    let stem = Stem::new(store.stores());
    let worker = Worker::builder(&stem).task::<Greet>().handle_signals(false).build()?.spawn();
    let pool = sqlx::PgPool::connect(&url).await?;

    // Rolled back: nothing was ever enqueued.
    let mut tx = pool.begin().await?;
    let ghost = Greet::call("ghost".to_owned()).enqueue_in(&mut tx, &store).await?;
    tx.rollback().await?;
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 0);
    assert!(ghost.status().await?.is_none(), "no record of a rolled back task");

    // Committed: invisible until the commit, then run.
    let mut tx = pool.begin().await?;
    let handle = Greet::call("ada".to_owned()).enqueue_in(&mut tx, &store).await?;
    assert_eq!(stem.queue_stats()?.pending_count("default").await?, 0, "not visible before the commit");
    assert!(handle.status().await?.is_none());
    tx.commit().await?;
    assert_eq!(handle.wait_timeout(WAIT).await?, "hello, ada");

    worker.stop(ShutdownMode::Warm).await?;
    store.drop_schema().await?;
    Ok(())
}
