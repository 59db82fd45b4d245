//! On Redis, a producer whose broker and backend are one store (same server,
//! same namespace) writes only the message: until a worker writes a status,
//! the message reads as the task's queued record. Other pairings write the
//! record beside the message.

use std::sync::Arc;
use std::time::Duration;

use stem::backend::{TaskState, TaskStatus};
use stem::codec::Payload;
use stem::memory::MemoryBackend;
use stem::{Envelope, ResultBackend, Stem};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, redis_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_publishes_the_message_and_it_reads_as_queued() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_enqueue_{:08x}", fastrand::u32(..));
    let options = RedisOptions::new(&url).with_namespace(&namespace);
    let store = RedisStore::connect_with(options).await?;
    let backend = store.backend();
    let stores = store.stores();
    assert!(stores.publish_recorded().is_some(), "the store's own broker and backend publish and record as one");
    let other = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(format!("{namespace}_other"))).await?;
    assert!(stores.clone().with_backend(other.backend()).publish_recorded().is_none(), "another namespace");
    assert!(
        stores.clone().with_backend(Arc::new(MemoryBackend::new())).publish_recorded().is_none(),
        "another kind of backend"
    );

    let stem = Stem::new(stores);
    let one = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    let many: Vec<Envelope> = (0..3).map(|n| Envelope::new("t2", "r", Payload::new("json", vec![b'0' + n]))).collect();
    let mut later = Envelope::new("t3", "q", Payload::new("json", b"2".to_vec()));
    later.not_before = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    later.attempt = 2;
    stem.enqueue_envelope(one.clone()).await?;
    stem.enqueue_envelopes(many.clone()).await?;
    stem.enqueue_envelope(later.clone()).await?;

    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let records: Vec<String> =
        redis::cmd("KEYS").arg(format!("stem:{namespace}:task:*")).query_async(&mut conn).await?;
    assert!(records.is_empty(), "no record is written beside the messages: {records:?}");
    for envelope in std::iter::once(&one).chain(&many).chain([&later]) {
        let status = backend.get(envelope.id).await?.expect("the message reads as a record");
        assert_eq!(status, TaskStatus::queued(envelope), "ready and delayed messages alike");
    }
    assert_eq!(stem.queue_stats()?.pending_count("q").await?, 1, "the delayed message is not pending");
    assert_eq!(stem.queue_stats()?.pending_count("r").await?, 3);

    // A worker's record wins over the message.
    let mut started = TaskStatus::new(one.id, "t", "q", TaskState::Started);
    started.fence = 1;
    assert!(backend.set(started.clone()).await?);
    assert_eq!(backend.get(one.id).await?, Some(started));
    // `wait` reads the message too, and times out on a task still queued.
    let waited = backend.wait(many[0].id, Duration::from_millis(50)).await?;
    assert_eq!(waited.map(|s| s.state), Some(TaskState::Queued));

    // A large batch: every message readable.
    let large: Vec<Envelope> =
        (0..1100u32).map(|n| Envelope::new("t", "q", Payload::new("json", n.to_string().into_bytes()))).collect();
    stem.enqueue_envelopes(large.clone()).await?;
    for envelope in [&large[0], &large[1099]] {
        assert_eq!(backend.get(envelope.id).await?.expect("queued").state, TaskState::Queued);
    }
    assert_eq!(stem.queue_stats()?.pending_count("q").await?, 1101);

    // A purged task that never started is unknown, not queued forever.
    stem.queue_stats()?.purge("r").await?;
    assert_eq!(backend.get(many[1].id).await?, None);
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_leaves_no_queued_record() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_enqueue_fail_{:08x}", fastrand::u32(..));
    let store = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(&namespace)).await?;
    let stem = Stem::new(store.stores());
    // The queue's index is a string: the publish script fails on it.
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let ids = format!("stem:{namespace}:{{q}}:ids");
    redis::cmd("SET").arg(&ids).arg("x").query_async::<()>(&mut conn).await?;

    let envelope = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    let error = stem.enqueue_envelope(envelope.clone()).await.expect_err("the publish fails");
    assert!(error.to_string().contains("publishing messages"), "{error}");
    let error = store.backend().get(envelope.id).await.expect_err("a broken queue index is an error, not a guess");
    assert!(error.to_string().contains("reading a task status"), "{error}");
    redis::cmd("DEL").arg(&ids).query_async::<()>(&mut conn).await?;
    assert_eq!(store.backend().get(envelope.id).await?, None, "nothing of the failed enqueue is stored");
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
    assert_eq!(backend.set_batch(&mut records.clone()).await?, vec![true, false, true]);
    assert_eq!(backend.get(records[0].id).await?.map(|s| s.state), Some(TaskState::Queued));
    assert_eq!(backend.get(records[1].id).await?, Some(started), "a worker's record is never replaced");
    assert_eq!(backend.get(records[2].id).await?.map(|s| s.state), Some(TaskState::Queued));
    // All new: one command, all written.
    let fresh: Vec<TaskStatus> =
        (0..3).map(|_| TaskStatus::new(stem::TaskId::new(), "t", "q", TaskState::Queued)).collect();
    assert_eq!(backend.set_batch(&mut fresh.clone()).await?, vec![true; 3]);
    // A large batch (sent in parts as they are encoded) with one existing record.
    let mut large: Vec<TaskStatus> =
        (0..1200).map(|_| TaskStatus::new(stem::TaskId::new(), "t", "q", TaskState::Queued)).collect();
    large[700] = records[1].clone();
    let written = backend.set_batch(&mut large.clone()).await?;
    let expected: Vec<bool> = (0..1200).map(|i| i != 700).collect();
    assert_eq!(written, expected);
    assert_eq!(backend.get(large[1199].id).await?.map(|s| s.state), Some(TaskState::Queued));
    store.delete_namespace().await?;
    Ok(())
}
