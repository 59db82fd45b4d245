//! The in-memory broker's contract: delays, nacks, fencing and the dead letter
//! queue. (The full conformance suite for every adapter arrives with the SQLite
//! adapter.)

use std::time::Duration;
use stem::broker::{DeadLetters, QueueStats};

use stem::broker::{Broker, Nack, PurgeOptions, ReceiveRequest, ReplayOptions};
use stem::codec::Payload;
use stem::memory::MemoryBroker;
use stem::{Envelope, Error};
use stem_tests::TestResult;

fn envelope(queue: &str) -> Envelope {
    Envelope::new("t", queue, Payload::new("json", b"null".to_vec()))
}

fn take(max: usize, wait: Duration) -> ReceiveRequest {
    ReceiveRequest { queues: vec!["q".to_owned()], max, lease: Duration::from_secs(30), wait, consumer: "c".to_owned() }
}

const NOW: Duration = Duration::ZERO;

#[tokio::test]
async fn a_nack_with_delay_comes_back_later_with_the_new_envelope() -> TestResult {
    let broker = MemoryBroker::new();
    broker.publish(envelope("q")).await?;
    let first = broker.receive(&take(1, NOW)).await?.remove(0);
    let mut next = (*first.envelope).clone();
    next.attempt += 1;
    broker.nack(&first.receipt, Nack::retry_in(next, Duration::from_millis(150))).await?;
    assert_eq!(broker.pending_count("q").await?, 0, "delayed, so not pending");
    assert!(broker.receive(&take(1, NOW)).await?.is_empty());
    let again = broker.receive(&take(1, Duration::from_secs(5))).await?.remove(0);
    assert_eq!((again.envelope.id, again.envelope.attempt, again.receipt.token), (first.envelope.id, 1, 2));
    Ok(())
}

#[tokio::test]
async fn a_requeue_puts_the_message_back_unchanged() -> TestResult {
    let broker = MemoryBroker::new();
    broker.publish(envelope("q")).await?;
    let first = broker.receive(&take(1, NOW)).await?.remove(0);
    assert_eq!(broker.inflight_count("q").await?, 1);
    broker.nack(&first.receipt, Nack::Requeue).await?;
    assert_eq!((broker.pending_count("q").await?, broker.inflight_count("q").await?), (1, 0));
    let again = broker.receive(&take(1, NOW)).await?.remove(0);
    assert_eq!(again.envelope, first.envelope);
    assert!(matches!(broker.ack(&first.receipt).await, Err(Error::LeaseLost(_))), "the old receipt is stale");
    broker.ack(&again.receipt).await?;
    assert_eq!(broker.inflight_count("q").await?, 0);
    Ok(())
}

#[tokio::test]
async fn receive_takes_up_to_max_and_waits_for_a_publish() -> TestResult {
    let broker = std::sync::Arc::new(MemoryBroker::new());
    for _ in 0..5 {
        broker.publish(envelope("q")).await?;
    }
    assert_eq!(broker.receive(&take(3, NOW)).await?.len(), 3);
    assert_eq!(broker.receive(&take(3, NOW)).await?.len(), 2);
    let waiting = tokio::spawn({
        let broker = std::sync::Arc::clone(&broker);
        async move { broker.receive(&take(1, Duration::from_secs(10))).await }
    });
    broker.publish(envelope("q")).await?;
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), waiting).await???.len(), 1);
    Ok(())
}

#[tokio::test]
async fn dead_letters_list_newest_first_and_replay_and_purge() -> TestResult {
    let broker = MemoryBroker::new();
    let (mut ids, mut tokens) = (Vec::new(), Vec::new());
    for n in 0..3 {
        broker.publish(envelope("q")).await?;
        let d = broker.receive(&take(1, NOW)).await?.remove(0);
        ids.push(d.envelope.id);
        tokens.push(d.receipt.token);
        broker.dead_letter(&d.receipt, &format!("reason {n}")).await?;
    }
    let page = broker.list_dead_letters("q", 2, 0).await?;
    let reasons: Vec<&str> = page.entries.iter().map(|d| d.reason.as_str()).collect();
    assert_eq!(reasons, ["reason 2", "reason 1"]);
    assert_eq!(page.next_offset, Some(2));
    assert_eq!(broker.list_dead_letters("q", 2, 2).await?.entries.len(), 1);
    let one = broker.get_dead_letter("q", ids[1]).await?.expect("found");
    assert_eq!(one.reason, "reason 1");

    let dry = broker.replay_dead_letters("q", &ReplayOptions { limit: 2, dry_run: true, ..Default::default() }).await?;
    assert!(dry.dry_run);
    assert_eq!(dry.entries.iter().map(|d| d.envelope.id).collect::<Vec<_>>(), ids[..2]);
    assert_eq!(broker.list_dead_letters("q", 10, 0).await?.entries.len(), 3, "a dry run changes nothing");
    assert_eq!(broker.pending_count("q").await?, 0);

    let replayed = broker.replay_dead_letters("q", &ReplayOptions { limit: 1, ..Default::default() }).await?;
    assert_eq!(replayed.entries[0].envelope.id, ids[0], "oldest first");
    assert_eq!(broker.pending_count("q").await?, 1);
    let back = broker.receive(&take(1, NOW)).await?.remove(0);
    assert_eq!((back.envelope.id, back.envelope.attempt), (ids[0], 0));
    assert!(back.receipt.token > tokens[0], "fencing tokens keep growing after a replay");
    assert!(back.envelope.meta.contains_key("stem.replayed_at"));

    assert_eq!(broker.purge_dead_letters("q", &PurgeOptions { limit: Some(1), ..Default::default() }).await?, 1);
    assert_eq!(broker.purge_dead_letters("q", &PurgeOptions::default()).await?, 1);
    assert!(broker.list_dead_letters("q", 10, 0).await?.entries.is_empty());
    Ok(())
}

#[tokio::test]
async fn purge_empties_a_queue_including_delayed_messages() -> TestResult {
    let broker = MemoryBroker::new();
    broker.publish(envelope("q")).await?;
    let mut later = envelope("q");
    later.not_before = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    broker.publish(later).await?;
    assert_eq!(broker.pending_count("q").await?, 1);
    assert_eq!(broker.purge("q").await?, 2);
    assert_eq!(broker.pending_count("q").await?, 0);
    Ok(())
}
