//! On Redis too, a message whose stored envelope no longer decodes goes to the
//! dead letter queue with its reason and its text, and the queue keeps flowing.

use std::time::Duration;
use stem::broker::{DeadLetters, QueueStats};

use stem::broker::{PurgeOptions, ReceiveRequest};
use stem::codec::Payload;
use stem::{Broker, Envelope};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, redis_url};

/// A store in a fresh namespace with two messages on `q`: a bad one (its stored
/// text is not an envelope, as another program or an older version might
/// leave it, written here by hand in the adapter's layout) and a good one
/// behind it.
async fn bad_then_good(url: &str, label: &str) -> stem::Result<(RedisStore, Envelope, Envelope)> {
    bad_entry_then_good(url, label, None, b"{not json").await
}

/// The same with the bad entry's stored id (its envelope's id if `None`) and
/// envelope bytes given.
async fn bad_entry_then_good(
    url: &str,
    label: &str,
    raw_id: Option<&[u8]>,
    raw_env: &[u8],
) -> stem::Result<(RedisStore, Envelope, Envelope)> {
    let namespace = format!("test_{label}_{:08x}", fastrand::u32(..));
    let store = RedisStore::connect_with(RedisOptions::new(url).with_namespace(&namespace)).await?;
    let bad = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    let good = Envelope::new("t", "q", Payload::new("json", b"2".to_vec()));
    let fail = |e: redis::RedisError| stem::Error::adapter("writing a bad message", e);
    let client = redis::Client::open(url).map_err(fail)?;
    let mut conn = client.get_multiplexed_async_connection().await.map_err(fail)?;
    let prefix = format!("stem:{namespace}:{{q}}:");
    let entry: String = redis::cmd("XADD")
        .arg(format!("{prefix}s0"))
        .arg("*")
        .arg("id")
        .arg(raw_id.map_or_else(|| bad.id.to_string().into_bytes(), <[u8]>::to_vec))
        .arg("env")
        .arg(raw_env)
        .query_async(&mut conn)
        .await
        .map_err(fail)?;
    redis::cmd("HSET")
        .arg(format!("{prefix}ids"))
        .arg(raw_id.map_or_else(|| bad.id.to_string().into_bytes(), <[u8]>::to_vec))
        .arg(format!("0:{entry}:0"))
        .query_async::<()>(&mut conn)
        .await
        .map_err(fail)?;
    store.broker().publish(good.clone()).await?;
    Ok((store, bad, good))
}

/// A request for up to `max` messages of `q`, waiting up to 5 s.
fn receive(max: usize) -> ReceiveRequest {
    ReceiveRequest {
        queues: vec!["q".into()],
        max,
        lease: Duration::from_secs(30),
        wait: Duration::from_secs(5),
        consumer: "test".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_message_is_dead_lettered_not_lost() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let (store, bad, good) = bad_then_good(&url, "bad").await?;
    let broker = store.broker();
    let request = receive(10);
    let got = broker.receive(&request).await?;
    assert_eq!(got.iter().map(|d| d.envelope.id).collect::<Vec<_>>(), vec![good.id], "the good message still flows");
    let dead = broker.list_dead_letters("q", 10, 0).await?.entries;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].reason.starts_with("undecodable envelope"), "{}", dead[0].reason);
    assert_eq!(dead[0].envelope.id, bad.id);
    assert_eq!(dead[0].envelope.args.bytes(), b"{not json", "the stored text is kept whole");
    assert_eq!((broker.pending_count("q").await?, broker.inflight_count("q").await?), (0, 1));
    store.delete_namespace().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_does_not_wait_behind_an_undecodable_message() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let (store, _bad, good) = bad_then_good(&url, "behind").await?;
    let broker = store.broker();
    // One at a time: the first read finds only the bad one; the good one is
    // ready behind it, and must come at once, not when the 5 s wait ends.
    let request = receive(1);
    let started = tokio::time::Instant::now();
    let got = broker.receive(&request).await?;
    assert_eq!(got.iter().map(|d| d.envelope.id).collect::<Vec<_>>(), vec![good.id]);
    assert!(started.elapsed() < Duration::from_secs(2), "waited {:?} behind a buried message", started.elapsed());

    // A receipt this broker did not make (no stream entry in its tag) acks nothing.
    let foreign = stem::broker::Receipt { id: good.id, queue: "q".into(), token: 1, tag: String::new() };
    assert_eq!(broker.ack_batch(&[foreign]).await?, 0);
    store.delete_namespace().await?;
    Ok(())
}

/// A bad entry: a label, its stored id (the envelope's if `None`), its stored
/// envelope bytes, and what its dead letter's reason says.
type Case = (&'static str, Option<&'static [u8]>, &'static [u8], &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_are_not_utf8_or_lack_a_task_id_cost_one_dead_letter_each() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let valid = br#"{"v":1,"id":"00000000-0000-0000-0000-000000000000","task":"t","queue":"q","args":{"codec":"json","data":"1"},"attempt":0,"max_retries":0,"priority":0,"created_at":"2026-01-01T00:00:00Z"}"#;
    let cases: [Case; 3] = [
        ("not-utf8", None, b"\xff\xfe{\"v\":1}", "not UTF-8"),
        ("not-a-uuid", Some(b"order-17"), valid, "its id `order-17` is not a task id"),
        ("binary-id", Some(b"\xff\x00id"), valid, "is not a task id"),
    ];
    for (label, raw_id, raw_env, why) in cases {
        let (store, _bad, good) = bad_entry_then_good(&url, label, raw_id, raw_env).await?;
        let broker = store.broker();
        let got = broker.receive(&receive(10)).await?;
        assert_eq!(got.iter().map(|d| d.envelope.id).collect::<Vec<_>>(), vec![good.id], "{label}: the good one flows");
        let dead = broker.list_dead_letters("q", 10, 0).await?.entries;
        assert_eq!(dead.len(), 1, "{label}");
        assert!(dead[0].reason.contains(why), "{label}: {}", dead[0].reason);
        assert_eq!(dead[0].envelope.args.bytes(), raw_env, "{label}: the stored bytes are kept whole");
        assert_eq!(
            broker.purge_dead_letters("q", &PurgeOptions::default()).await?,
            1,
            "{label}: it purges by its stored id"
        );
        assert!(broker.list_dead_letters("q", 10, 0).await?.entries.is_empty(), "{label}");
        assert_eq!(broker.pending_count("q").await?, 0, "{label}: nothing is left behind");
        assert!(broker.receive(&ReceiveRequest { wait: Duration::from_millis(100), ..receive(10) }).await?.is_empty());
        store.delete_namespace().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_that_no_longer_decodes_is_listed_and_purged() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let (store, _bad, _good) = bad_then_good(&url, "dlq-bad").await?;
    let broker = store.broker();
    let _ = broker.receive(&receive(10)).await?; // buries the bad message, delivers the good one
    // A second dead letter, written as another program might have left it.
    let fail = |e: redis::RedisError| stem::Error::adapter("writing a bad dead letter", e);
    let mut conn =
        redis::Client::open(url.as_str()).map_err(fail)?.get_multiplexed_async_connection().await.map_err(fail)?;
    let prefix = format!("stem:{}:{{q}}:", store.options().namespace());
    redis::pipe()
        .cmd("HSET")
        .arg(format!("{prefix}dead:legacy-7"))
        .arg("env")
        .arg(b"\xff{old".as_slice())
        .arg("reason")
        .arg("boom")
        .arg("dead_at")
        .arg("yesterday")
        .cmd("ZADD")
        .arg(format!("{prefix}dead"))
        .arg(999)
        .arg("legacy-7")
        .query_async::<()>(&mut conn)
        .await
        .map_err(fail)?;
    let dead = broker.list_dead_letters("q", 10, 0).await?.entries;
    assert_eq!(dead.len(), 2, "both are listed");
    assert!(dead[0].reason.starts_with("boom (undecodable envelope"), "{}", dead[0].reason);
    assert_eq!(dead[0].envelope.args.bytes(), b"\xff{old");
    assert_eq!(
        broker.purge_dead_letters("q", &PurgeOptions::default()).await?,
        2,
        "one bad dead letter does not block purge"
    );
    assert!(broker.list_dead_letters("q", 10, 0).await?.entries.is_empty());
    store.delete_namespace().await?;
    Ok(())
}
