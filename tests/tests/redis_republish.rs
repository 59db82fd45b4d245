//! On Redis, publishing an id that is already stored replaces the stored copy:
//! one message per id, and fencing tokens keep growing, so the worker holding
//! the old copy can no longer settle it.

use std::time::Duration;
use stem::broker::QueueStats;

use stem::broker::ReceiveRequest;
use stem::codec::Payload;
use stem::{Broker, Envelope, ResultBackend};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, redis_url};

/// A store in a namespace of its own; `None` (the test skips) without a Redis.
async fn store() -> stem::Result<Option<RedisStore>> {
    let Some(url) = redis_url() else { return Ok(None) };
    let namespace = format!("test_republish_{:08x}", fastrand::u32(..));
    RedisStore::connect_with(RedisOptions::new(&url).with_namespace(&namespace)).await.map(Some)
}

/// Up to `max` messages of queue `q`, waiting up to `wait` for the first.
fn request(max: usize, wait: Duration) -> ReceiveRequest {
    ReceiveRequest {
        queues: vec!["q".to_owned()],
        max,
        lease: Duration::from_secs(30),
        wait,
        consumer: "test".to_owned(),
    }
}

/// Another copy of `of` (the same task id), with `payload` as its arguments.
fn copy(of: &Envelope, payload: &str) -> Envelope {
    let mut next = of.clone();
    next.args = Payload::new("json", payload.as_bytes().to_vec());
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_republished_id_replaces_the_stored_copy() -> TestResult {
    let Some(store) = store().await? else { return Ok(()) };
    let broker = store.broker();
    let wait = Duration::from_millis(300);
    let first = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    broker.publish(first.clone()).await?;
    let held = broker.receive(&request(1, wait)).await?.pop().expect("delivered");

    let second = copy(&first, "2");
    broker.publish(second.clone()).await?;
    assert_eq!(broker.ack_batch(std::slice::from_ref(&held.receipt)).await?, 0, "the old copy is gone");
    let got = broker.receive(&request(10, wait)).await?;
    assert_eq!(got.len(), 1, "one message per id");
    assert_eq!(*got[0].envelope, second, "the new copy");
    assert!(got[0].receipt.token > held.receipt.token, "tokens keep growing");
    assert_eq!((broker.pending_count("q").await?, broker.inflight_count("q").await?), (0, 1));
    broker.ack(&got[0].receipt).await?;
    store.delete_namespace().await?;
    Ok(())
}

/// Publishing an id that is stored replaces its stored copy, whether the new
/// copy comes alone (the short path of the publish script) or in a batch,
/// and whether the old one is ready, delivered or delayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_copy_is_replaced_alone_or_in_a_batch_whatever_its_state() -> TestResult {
    let Some(store) = store().await? else { return Ok(()) };
    let broker = store.broker();
    let receive = || async { broker.receive(&request(10, Duration::from_secs(5))).await };
    for (how, batch) in [("alone", false), ("in a batch", true)] {
        let publish = |envelope: Envelope| {
            let broker = broker.clone();
            // A batch of two copies takes the script's general path (a lone
            // message its short one), and its last copy wins.
            async move {
                if batch {
                    broker.publish_batch(vec![copy(&envelope, "0"), envelope]).await
                } else {
                    broker.publish(envelope).await
                }
            }
        };
        let e = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
        // Ready, then replaced: one message, the new one.
        broker.publish(e.clone()).await?;
        publish(copy(&e, "2")).await?;
        assert_eq!(broker.pending_count("q").await?, 1, "{how}: one copy");
        let got = receive().await?;
        assert_eq!(got.len(), 1, "{how}");
        assert_eq!(got[0].envelope.args, copy(&e, "2").args, "{how}: the new copy");
        // Delivered, then replaced: the old receipt can no longer settle.
        publish(copy(&e, "3")).await?;
        assert_eq!(broker.ack_batch(&[got[0].receipt.clone()]).await?, 0, "{how}: the old delivery is gone");
        let got = receive().await?;
        assert_eq!(got.len(), 1, "{how}");
        assert_eq!(got[0].envelope.args, copy(&e, "3").args, "{how}");
        assert_eq!(broker.ack_batch(&[got[0].receipt.clone()]).await?, 1, "{how}");
        // Delayed, then replaced by a ready copy: delivered now, once.
        let mut later = Envelope::new("t", "q", Payload::new("json", b"4".to_vec()));
        later.not_before = Some(chrono::Utc::now() + chrono::Duration::hours(1));
        broker.publish(later.clone()).await?;
        let mut now = copy(&later, "5");
        now.not_before = None;
        publish(now.clone()).await?;
        let got = receive().await?;
        assert_eq!(got.len(), 1, "{how}");
        assert_eq!(got[0].envelope.args, now.args, "{how}");
        assert_eq!(broker.ack_batch(&[got[0].receipt.clone()]).await?, 1, "{how}");
        assert_eq!(broker.pending_count("q").await?, 0, "{how}: nothing left, the delayed copy included");
        assert!(
            store.backend().get(later.id).await?.is_none(),
            "{how}: no copy of the delayed message is left to read"
        );
    }
    store.delete_namespace().await?;
    Ok(())
}
