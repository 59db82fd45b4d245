//! The Postgres store vacuums its busiest tables itself as they churn (the
//! server's autovacuum is off for the test's tables, so every vacuum counted
//! here is the store's). That `vacuum_every=0` turns it off is checked where
//! URLs are read: a test here could not tell a vacuum never started from one
//! not finished yet.

use stem::prelude::*;
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::{TestResult, WAIT, postgres_url, until_ok};

#[stem::task]
async fn echo(n: u64) -> Result<u64, TaskError> {
    Ok(n)
}

/// Tasks run: more than the test's `vacuum_every` for `messages` (50), and for
/// `tasks` (5 x 50 status writes, counting the queued records too).
const TASKS: u64 = 300;

/// A store in a schema of its own with the server's autovacuum off for its
/// tables, and a pool to read the vacuum counts with.
async fn store(url: &str, vacuum_every: Option<u64>) -> Result<(PostgresStore, sqlx::PgPool, String), BoxError> {
    let schema = format!("test_vacuum_{:08x}", fastrand::u32(..));
    let options = PostgresOptions::new(url).with_schema(&schema).with_vacuum_every(vacuum_every);
    let store = PostgresStore::connect_with(options).await?;
    let pool = sqlx::PgPool::connect(url).await?;
    for table in ["messages", "tasks"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE \"{schema}\".{table} SET (autovacuum_enabled = false)"
        )))
        .execute(&pool)
        .await?;
    }
    Ok((store, pool, schema))
}

/// How many times `table` of `schema` was vacuumed (by anyone but autovacuum).
async fn vacuums(pool: &sqlx::PgPool, schema: &str, table: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2")
        .bind(schema)
        .bind(table)
        .fetch_one(pool)
        .await
}

/// Runs [`TASKS`] tasks through a worker and checks every result.
async fn run_tasks(store: &PostgresStore) -> TestResult {
    let stem = Stem::new(store.stores());
    let worker = Worker::builder(&stem).task::<Echo>().handle_signals(false).build()?.spawn();
    let handles = stem.enqueue_many((0..TASKS).map(Echo::call)).await?;
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.wait_timeout(WAIT).await?, i as u64);
    }
    worker.stop(ShutdownMode::Warm).await?;
    Ok(())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_vacuums_messages_and_tasks_as_they_churn() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let (store, pool, schema) = store(&url, Some(50)).await?;
    assert_eq!(vacuums(&pool, &schema, "messages").await?, 0);
    run_tasks(&store).await?;
    for table in ["messages", "tasks"] {
        until_ok(&format!("a vacuum of {table}"), || async {
            match vacuums(&pool, &schema, table).await {
                Ok(n) if n > 0 => Ok(n),
                other => Err(other),
            }
        })
        .await;
    }
    store.drop_schema().await?;
    Ok(())
}
