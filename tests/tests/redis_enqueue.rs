//! On Redis, a producer whose broker and backend are one store (same server,
//! same namespace) publishes a message and writes its queued record in one
//! request; other pairings keep the two side by side.

use stem::backend::{TaskState, TaskStatus};
use stem::codec::Payload;
use stem::memory::MemoryBackend;
use stem::{Broker, Envelope, ResultBackend, Stem};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, redis_url, until_ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_publishes_and_records_in_one_request() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_enqueue_{:08x}", fastrand::u32(..));
    let options = RedisOptions::new(&url).with_namespace(&namespace);
    let store = RedisStore::connect_with(options.clone()).await?;
    let (broker, backend) = (store.broker(), store.backend());
    assert!(broker.records_with(&*backend), "the same store");
    let again = RedisStore::connect_with(options).await?;
    assert!(broker.records_with(&*again.backend()), "the same Redis and namespace, opened twice");
    let other = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(format!("{namespace}_other"))).await?;
    assert!(!broker.records_with(&*other.backend()), "another namespace");
    assert!(!broker.records_with(&MemoryBackend::new()), "another kind of backend");

    let stem = Stem::new(broker.clone(), backend.clone());
    let one = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    let many: Vec<Envelope> = (0..3).map(|n| Envelope::new("t", "q", Payload::new("json", vec![b'0' + n]))).collect();
    stem.enqueue_envelope(one.clone()).await?;
    stem.enqueue_envelopes(many.clone()).await?;
    for envelope in std::iter::once(&one).chain(&many) {
        let status = backend.get(envelope.id).await?.expect("recorded");
        assert_eq!(status.state, TaskState::Queued);
        assert_eq!(status.fence, 0);
    }
    assert_eq!(broker.pending_count("q").await?, 4, "every message published");

    // A large batch goes as two pipelines, messages and records, from two tasks.
    let large: Vec<Envelope> =
        (0..1100u32).map(|n| Envelope::new("t", "q", Payload::new("json", n.to_string().into_bytes()))).collect();
    stem.enqueue_envelopes(large.clone()).await?;
    for envelope in [&large[0], &large[1099]] {
        assert_eq!(backend.get(envelope.id).await?.expect("recorded").state, TaskState::Queued);
    }
    assert_eq!(broker.pending_count("q").await?, 1104);
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_leaves_no_queued_record() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_enqueue_fail_{:08x}", fastrand::u32(..));
    let store = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(&namespace)).await?;
    let stem = Stem::new(store.broker(), store.backend());
    // The queue's index is a string: the publish script fails on it, after
    // the records in the same request may have been written.
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("SET").arg(format!("stem:{namespace}:{{q}}:ids")).arg("x").query_async::<()>(&mut conn).await?;

    let envelope = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    let error = stem.enqueue_envelope(envelope.clone()).await.expect_err("the publish fails");
    assert!(error.to_string().contains("publishing messages"), "{error}");
    let backend = store.backend();
    until_ok("the queued record to be forgotten", || async {
        match backend.get(envelope.id).await? {
            None => Ok(()),
            Some(status) => Err(stem::Error::Config(format!("still recorded: {status:?}"))),
        }
    })
    .await;
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_records_go_where_none_exists_even_beside_an_existing_one() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_enqueue_records_{:08x}", fastrand::u32(..));
    let store = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(&namespace)).await?;
    let backend = store.backend();
    let records: Vec<TaskStatus> =
        (0..3).map(|_| TaskStatus::new(stem::TaskId::new(), "t", "q", TaskState::Queued)).collect();
    // A worker already wrote the middle one.
    let mut started = records[1].clone();
    started.state = TaskState::Started;
    started.fence = 3;
    assert!(backend.set(started.clone()).await?);

    // The batch meets an existing key, so it is written one record at a time.
    assert_eq!(backend.set_batch(&records).await?, vec![true, false, true]);
    assert_eq!(backend.get(records[0].id).await?.map(|s| s.state), Some(TaskState::Queued));
    assert_eq!(backend.get(records[1].id).await?, Some(started), "a worker's record is never replaced");
    assert_eq!(backend.get(records[2].id).await?.map(|s| s.state), Some(TaskState::Queued));
    // All new: one command, all written.
    let fresh: Vec<TaskStatus> =
        (0..3).map(|_| TaskStatus::new(stem::TaskId::new(), "t", "q", TaskState::Queued)).collect();
    assert_eq!(backend.set_batch(&fresh).await?, vec![true; 3]);
    // A large batch (sent in parts as they are encoded) with one existing record.
    let mut large: Vec<TaskStatus> =
        (0..1200).map(|_| TaskStatus::new(stem::TaskId::new(), "t", "q", TaskState::Queued)).collect();
    large[700] = records[1].clone();
    let written = backend.set_batch(&large).await?;
    let expected: Vec<bool> = (0..1200).map(|i| i != 700).collect();
    assert_eq!(written, expected);
    assert_eq!(backend.get(large[1199].id).await?.map(|s| s.state), Some(TaskState::Queued));
    store.delete_namespace().await?;
    Ok(())
}
