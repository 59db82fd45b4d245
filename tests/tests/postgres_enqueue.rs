//! On Postgres, a producer whose broker and backend are one store (same
//! database, same schema) stores only the message: the backend reads a task
//! with a message and no record as queued, so a message never lacks its
//! record and the record costs no write. Other pairings write both.

use stem::backend::TaskState;
use stem::codec::Payload;
use stem::memory::MemoryBackend;
use stem::prelude::*;
use stem::{Envelope, ResultBackend};
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::{TestResult, WAIT, postgres_url};

/// The task of the messages here: returns its argument.
#[stem::task(name = "t", queue = "q")]
async fn t(n: u8) -> Result<u8, TaskError> {
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_stores_the_message_which_reads_as_queued() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let schema = format!("test_enqueue_{:08x}", fastrand::u32(..));
    let store = PostgresStore::connect_with(PostgresOptions::new(&url).with_schema(&schema)).await?;
    let backend = store.backend();
    let stores = store.stores();
    assert!(stores.publish_recorded().is_some(), "the store's own broker and backend publish and record as one");
    let other = PostgresStore::connect_with(PostgresOptions::new(&url).with_schema(format!("{schema}_other"))).await?;
    assert!(stores.clone().with_backend(other.backend()).publish_recorded().is_none(), "another schema");
    assert!(
        stores.clone().with_backend(std::sync::Arc::new(MemoryBackend::new())).publish_recorded().is_none(),
        "another kind of backend"
    );
    other.drop_schema().await?;

    let stem = Stem::new(stores);
    let one = T::call(1).into_envelope()?;
    let mut many: Vec<Envelope> =
        (0..3).map(|n| Envelope::new("t", "q", Payload::new("json", vec![b'0' + n]))).collect();
    many.push(many[0].clone()); // an id twice in one batch: one message, one record
    stem.enqueue_envelope(one.clone()).await?;
    stem.enqueue_envelopes(many.clone()).await?;
    for envelope in std::iter::once(&one).chain(&many) {
        let status = backend.get(envelope.id).await?.expect("recorded");
        assert_eq!(status.state, TaskState::Queued);
        assert_eq!(status.fence, 0);
    }
    assert_eq!(stem.queue_stats()?.pending_count("q").await?, 4, "every message published, each once");
    let pool = sqlx::PgPool::connect(&url).await?;
    let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM \"{schema}\".tasks")))
        .fetch_one(&pool)
        .await?;
    assert_eq!(rows, 0, "no record written: the messages stand for them");

    // A worker's first write replaces the implied record, and outlives the message.
    let stem_worker = Worker::builder(&stem).task::<T>().queue("q").handle_signals(false).build()?.spawn();
    let handle = stem.handle::<u8>(one.id);
    assert_eq!(handle.wait_timeout(WAIT).await?, 1);
    stem_worker.stop(ShutdownMode::Warm).await?;
    let status = backend.get(one.id).await?.expect("recorded");
    assert_eq!(status.state, TaskState::Succeeded);

    // A publish that fails leaves neither a message nor a record.
    let bad = Envelope::new("t", "q\0", Payload::new("json", b"1".to_vec()));
    stem.enqueue_envelope(bad.clone()).await.expect_err("Postgres text holds no NUL");
    assert!(backend.get(bad.id).await?.is_none(), "no record without its message");
    store.drop_schema().await?;
    Ok(())
}
