//! On Postgres a claimed row whose envelope does not read (a schema changed by
//! hand: a NULL envelope, a column of another type) costs that row one dead
//! letter with its reason; the rest of the claimed batch is delivered.

use std::time::Duration;

use stem::broker::{DeadLetters, ReceiveRequest};
use stem::codec::Payload;
use stem::{Broker, Envelope};
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::{TestResult, postgres_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_that_does_not_read_costs_one_dead_letter_not_the_batch() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let schema = format!("test_bad_rows_{:08x}", fastrand::u32(..));
    let store = PostgresStore::connect_with(PostgresOptions::new(&url).with_schema(&schema)).await?;
    let broker = store.broker();
    let envelopes: Vec<Envelope> =
        (0..3).map(|n| Envelope::new("t", "q", Payload::new("json", n.to_string().into_bytes()))).collect();
    broker.publish_batch(envelopes.clone()).await?;
    // Below the API: the envelope column loses its NOT NULL and one row its envelope.
    let pool = sqlx::PgPool::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{schema}\".messages ALTER COLUMN envelope DROP NOT NULL; \
         UPDATE \"{schema}\".messages SET envelope = NULL WHERE id = '{}'",
        envelopes[1].id
    )))
    .execute(&pool)
    .await?;

    let request = ReceiveRequest {
        queues: vec!["q".into()],
        max: 10,
        lease: Duration::from_secs(30),
        wait: Duration::from_secs(2),
        consumer: "test".into(),
    };
    let got = broker.receive(&request).await?;
    let mut ids: Vec<_> = got.iter().map(|d| d.envelope.id).collect();
    ids.sort();
    assert_eq!(ids, vec![envelopes[0].id, envelopes[2].id], "the other rows of the batch are delivered");
    let dead = broker.list_dead_letters("q", 10, 0).await?.entries;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].envelope.id, envelopes[1].id);
    assert!(dead[0].reason.contains("no envelope is stored"), "{}", dead[0].reason);
    store.drop_schema().await?;
    Ok(())
}
