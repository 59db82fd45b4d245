//! A transaction whose `BEGIN` is dropped in flight (an aborted task, a
//! timeout, a worker's hard stop) leaves no open transaction behind on the
//! pooled connection. sqlx-postgres 0.9.0 did (upstream transact-rs/sqlx#4393):
//! every later statement on that connection then ran inside a transaction that
//! was never committed, and was lost. sqlx 0.9.1 has the fix (#4394); this test
//! keeps it from coming back with a future sqlx.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use sqlx::{AssertSqlSafe, Connection};
use stem_tests::{TestResult, postgres_url};

/// Statements written after cancelled `BEGIN`s.
const ROUNDS: i64 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_begin_dropped_in_flight_loses_no_later_write() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let schema = format!("test_cancel_{:08x}", fastrand::u32(..));
    let table = format!("\"{schema}\".writes");
    // One connection, so that every round gets the connection the last left.
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&url).await?;
    let observer = sqlx::PgPool::connect(&url).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"; CREATE TABLE {table} (n bigint)")))
        .execute(&observer)
        .await?;

    for n in 0..ROUNDS {
        let mut conn = pool.acquire().await?;
        {
            // One poll sends BEGIN; dropping the future before its reply is
            // the cancellation.
            let mut begin = pin!(conn.begin());
            std::future::poll_fn(|cx| {
                let _ = begin.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
        }
        drop(conn);
        sqlx::query(AssertSqlSafe(format!("INSERT INTO {table} VALUES ($1)"))).bind(n).execute(&pool).await?;
    }

    let seen: i64 =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(&observer).await?;
    assert_eq!(seen, ROUNDS, "every write is committed and visible on another connection");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE"))).execute(&observer).await?;
    Ok(())
}
