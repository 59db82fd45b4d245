//! On Redis, publishing an id that is already stored replaces the stored copy:
//! one message per id, and fencing tokens keep growing, so the worker holding
//! the old copy can no longer settle it.

use std::time::Duration;

use stem::broker::ReceiveRequest;
use stem::codec::Payload;
use stem::{Broker, Envelope};
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TestResult, redis_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_republished_id_replaces_the_stored_copy() -> TestResult {
    let Some(url) = redis_url() else { return Ok(()) };
    let namespace = format!("test_republish_{:08x}", fastrand::u32(..));
    let store = RedisStore::connect_with(RedisOptions::new(&url).with_namespace(&namespace)).await?;
    let broker = store.broker();
    let request = |max| ReceiveRequest {
        queues: vec!["q".into()],
        max,
        lease: Duration::from_secs(30),
        wait: Duration::from_millis(300),
        consumer: "test".into(),
    };
    let first = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    broker.publish(first.clone()).await?;
    let held = broker.receive(&request(1)).await?.pop().expect("delivered");

    let mut second = first.clone();
    second.args = Payload::new("json", b"2".to_vec());
    broker.publish(second.clone()).await?;
    assert_eq!(broker.ack_batch(std::slice::from_ref(&held.receipt)).await?, 0, "the old copy is gone");
    let got = broker.receive(&request(10)).await?;
    assert_eq!(got.len(), 1, "one message per id");
    assert_eq!(*got[0].envelope, second, "the new copy");
    assert!(got[0].receipt.token > held.receipt.token, "tokens keep growing");
    assert_eq!((broker.pending_count("q").await?, broker.inflight_count("q").await?), (0, 1));
    broker.ack(&got[0].receipt).await?;
    store.delete_namespace().await?;
    Ok(())
}
