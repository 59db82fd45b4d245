//! On Redis too, a message whose stored envelope no longer decodes goes to the
//! dead letter queue with its reason and its text, and the queue keeps flowing.

use std::time::Duration;
use stem::broker::{DeadLetters, QueueStats};

use stem::broker::ReceiveRequest;
use stem::codec::Payload;
use stem::{Broker, Envelope};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, redis_url};

/// A store in a fresh namespace with two messages on `q`: a bad one (its stored
/// text is not an envelope, as another program or an older version might
/// leave it, written here by hand in the adapter's layout) and a good one
/// behind it.
async fn bad_then_good(url: &str, label: &str) -> stem::Result<(RedisStore, Envelope, Envelope)> {
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
        .arg(bad.id.to_string())
        .arg("env")
        .arg("{not json")
        .query_async(&mut conn)
        .await
        .map_err(fail)?;
    redis::cmd("HSET")
        .arg(format!("{prefix}ids"))
        .arg(bad.id.to_string())
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
