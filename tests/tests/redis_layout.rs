//! Messages stored by the Redis adapter's layout before 2026-12-01 (a hash per
//! message holding its envelope; stream entries held only the task id) are
//! moved into the current layout when a claim meets them: ready, delayed and
//! leased ones alike are delivered and acked, and none is lost. Task records
//! of that layout (a hash per task) are read, and replaced by the next write.

use std::collections::BTreeSet;
use std::time::Duration;
use stem::broker::QueueStats;

use stem::backend::{TaskState, TaskStatus};
use stem::broker::ReceiveRequest;
use stem::codec::Payload;
use stem::{Broker, Envelope, ResultBackend, TaskId};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, WAIT, redis_url};

/// Runs one Redis command, naming what it was for if it fails.
async fn run<T: redis::FromRedisValue>(
    conn: &mut redis::aio::MultiplexedConnection,
    cmd: &redis::Cmd,
) -> stem::Result<T> {
    cmd.query_async(conn).await.map_err(|e| stem::Error::adapter("writing the earlier layout", e))
}

/// The earlier layout's hash of one message.
fn message(prefix: &str, envelope: &Envelope, entry: Option<&str>, deliveries: u64) -> stem::Result<redis::Cmd> {
    let json = serde_json::to_string(envelope).map_err(|e| stem::Error::adapter("encoding", e))?;
    let mut cmd = redis::cmd("HSET");
    cmd.arg(format!("{prefix}msg:{}", envelope.id)).arg("env").arg(json).arg("band").arg("0");
    cmd.arg("deliveries").arg(deliveries);
    if let Some(entry) = entry {
        cmd.arg("entry").arg(entry);
    }
    Ok(cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_the_earlier_layout_are_adopted_and_delivered() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_layout_{:08x}", fastrand::u32(..));
    let store = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(&namespace)).await?;
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let prefix = format!("stem:{namespace}:{{q}}:");
    let stream = format!("{prefix}s0");
    let [leased, ready, delayed] =
        [1u8, 2, 3].map(|n| Envelope::new("t", "q", Payload::new("json", n.to_string().into_bytes())));
    let past = chrono::Utc::now().timestamp_millis() - 1_000;

    // Leased by an old worker whose lease has ended: in the group's pending list.
    run::<()>(&mut conn, redis::cmd("XGROUP").arg("CREATE").arg(&stream).arg("stem").arg("0").arg("MKSTREAM")).await?;
    let entry: String =
        run(&mut conn, redis::cmd("XADD").arg(&stream).arg("*").arg("id").arg(leased.id.to_string())).await?;
    run::<redis::Value>(
        &mut conn,
        redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("stem")
            .arg("old")
            .arg("COUNT")
            .arg(1)
            .arg("STREAMS")
            .arg(&stream)
            .arg(">"),
    )
    .await?;
    run::<()>(&mut conn, &message(&prefix, &leased, Some(&entry), 1)?).await?;
    run::<()>(&mut conn, redis::cmd("ZADD").arg(format!("{prefix}leases")).arg(past).arg(leased.id.to_string()))
        .await?;
    // Ready on the stream.
    let entry: String =
        run(&mut conn, redis::cmd("XADD").arg(&stream).arg("*").arg("id").arg(ready.id.to_string())).await?;
    run::<()>(&mut conn, &message(&prefix, &ready, Some(&entry), 0)?).await?;
    // Delayed, and due.
    run::<()>(&mut conn, &message(&prefix, &delayed, None, 0)?).await?;
    run::<()>(&mut conn, redis::cmd("ZADD").arg(format!("{prefix}delayed")).arg(past).arg(delayed.id.to_string()))
        .await?;

    let broker = store.broker();
    let request = ReceiveRequest {
        queues: vec!["q".into()],
        max: 10,
        lease: Duration::from_secs(30),
        wait: Duration::from_millis(200),
        consumer: "new".into(),
    };
    let want: BTreeSet<TaskId> = [leased.id, ready.id, delayed.id].into();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < want.len() && tokio::time::Instant::now() < deadline {
        got.extend(broker.receive(&request).await?);
    }
    let ids: BTreeSet<TaskId> = got.iter().map(|d| d.envelope.id).collect();
    assert_eq!(ids, want, "every message of the earlier layout is delivered");
    assert_eq!(got.len(), 3, "each once");
    for delivery in &got {
        let original = [&leased, &ready, &delayed].into_iter().find(|e| e.id == delivery.envelope.id).unwrap();
        assert_eq!(delivery.envelope.args.bytes(), original.args.bytes(), "the envelope is the stored one");
    }
    let receipts: Vec<_> = got.iter().map(|d| d.receipt.clone()).collect();
    assert_eq!(broker.ack_batch(&receipts).await?, 3, "the new receipts settle");
    assert_eq!((broker.pending_count("q").await?, broker.inflight_count("q").await?), (0, 0));
    for envelope in [&leased, &ready, &delayed] {
        let left: bool = run(&mut conn, redis::cmd("EXISTS").arg(format!("{prefix}msg:{}", envelope.id))).await?;
        assert!(!left, "the earlier layout's hash is gone");
    }
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_records_of_the_string_layout_are_read_fenced_and_replaced() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_layout_status_{:08x}", fastrand::u32(..));
    let store = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(&namespace)).await?;
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let envelope = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    let mut status = TaskStatus::new(envelope.id, "t", "q", TaskState::Started);
    status.fence = 3;
    let json = serde_json::to_string(&status)?;
    // For some hours of 2026-12-01 a task's record was a string: `<fence>|<status>`.
    let key = format!("stem:{namespace}:task:{}", envelope.id);
    run::<()>(&mut conn, redis::cmd("SET").arg(&key).arg(format!("3|{json}"))).await?;

    let backend = store.backend();
    assert_eq!(backend.get(envelope.id).await?, Some(status.clone()), "the earlier record reads");
    assert!(!backend.set(TaskStatus::queued(&envelope)).await?, "a producer's record does not replace it");
    assert_eq!(backend.get(envelope.id).await?, Some(status.clone()));
    let mut stale = status.clone();
    stale.state = TaskState::Failed;
    stale.fence = 2;
    assert!(!backend.set(stale).await?, "its fence still refuses an older delivery");
    assert_eq!(backend.get(envelope.id).await?, Some(status.clone()));
    let mut done = status.clone();
    done.state = TaskState::Succeeded;
    done.fence = 4;
    assert!(backend.set(done.clone()).await?, "a newer write replaces it");
    assert_eq!(backend.get(envelope.id).await?, Some(done));
    let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await?;
    assert_eq!(kind, "hash", "the record is now a hash");
    let fence: String = redis::cmd("HGET").arg(&key).arg("fence").query_async(&mut conn).await?;
    assert_eq!(fence, "4");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
    assert!(ttl > 0, "a final record expires (PTTL {ttl})");
    store.delete_namespace().await?;
    Ok(())
}
