//! On Postgres, a producer whose broker and backend are one store (same
//! database, same schema) stores a message and its queued record in one
//! statement: both or neither. Other pairings keep the two side by side.

use stem::backend::TaskState;
use stem::codec::Payload;
use stem::memory::MemoryBackend;
use stem::{Broker, Envelope, ResultBackend, Stem};
use stem_adapters::postgres::{PostgresOptions, PostgresStore};
use stem_tests::{TestResult, postgres_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_publishes_and_records_in_one_statement() -> TestResult {
    let Some(url) = postgres_url() else { return Ok(()) };
    let schema = format!("test_enqueue_{:08x}", fastrand::u32(..));
    let store = PostgresStore::connect_with(PostgresOptions::new(&url).with_schema(&schema)).await?;
    let (broker, backend) = (store.broker(), store.backend());
    assert!(broker.records_with(&*backend), "the same store");
    let other = PostgresStore::connect_with(PostgresOptions::new(&url).with_schema(format!("{schema}_other"))).await?;
    assert!(!broker.records_with(&*other.backend()), "another schema");
    assert!(!broker.records_with(&MemoryBackend::new()), "another kind of backend");
    other.drop_schema().await?;

    let stem = Stem::new(broker.clone(), backend.clone());
    let one = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
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
    assert_eq!(broker.pending_count("q").await?, 4, "every message published, each once");

    // A statement that fails stores neither the message nor its record.
    let bad = Envelope::new("t", "q\0", Payload::new("json", b"1".to_vec()));
    stem.enqueue_envelope(bad.clone()).await.expect_err("Postgres text holds no NUL");
    assert!(backend.get(bad.id).await?.is_none(), "no record without its message");
    assert_eq!(broker.pending_count("q").await?, 4);
    store.drop_schema().await?;
    Ok(())
}
