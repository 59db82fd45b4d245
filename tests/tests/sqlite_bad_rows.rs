//! A message whose stored envelope no longer decodes goes to the dead letter
//! queue with its reason and its text, and the queue keeps flowing.

use std::time::Duration;
use stem::broker::{DeadLetters, QueueStats};

use stem::broker::ReceiveRequest;
use stem::codec::Payload;
use stem::{Broker, Envelope};
use stem_adapters::sqlite::SqliteStore;
use stem_tests::{TempDir, TestResult};

/// Up to 10 messages of `q`, waiting up to 5 s.
fn request() -> ReceiveRequest {
    ReceiveRequest {
        queues: vec!["q".into()],
        max: 10,
        lease: Duration::from_secs(30),
        wait: Duration::from_secs(5),
        consumer: "test".into(),
    }
}

#[tokio::test]
async fn an_undecodable_message_is_dead_lettered_not_lost() -> TestResult {
    let dir = TempDir::new("bad-rows");
    let file = dir.file("stem.db");
    let broker = SqliteStore::open(&file).await?.broker();
    let good = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    {
        let conn = rusqlite::Connection::open(&file)?;
        conn.execute(
            "INSERT INTO stem_messages (id, queue, priority, state, ready_at, envelope) VALUES (?, 'q', 5, 0, 0, ?)",
            ("01a20000-0000-7000-8000-000000000001", "{not json"),
        )?;
    }
    broker.publish(good.clone()).await?;
    let request = request();
    let got = broker.receive(&request).await?;
    assert_eq!(got.iter().map(|d| d.envelope.id).collect::<Vec<_>>(), vec![good.id], "the good message still flows");
    let dead = broker.list_dead_letters("q", 10, 0).await?.entries;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].reason.starts_with("undecodable envelope"), "{}", dead[0].reason);
    assert_eq!(dead[0].envelope.id.to_string(), "01a20000-0000-7000-8000-000000000001");
    assert_eq!(dead[0].envelope.args.bytes(), b"{not json", "the stored text is kept whole");
    assert_eq!(broker.pending_count("q").await? + broker.inflight_count("q").await?, 1);
    Ok(())
}

#[tokio::test]
async fn rows_holding_blobs_cost_one_dead_letter_each_not_the_claim() -> TestResult {
    let dir = TempDir::new("blob-rows");
    let file = dir.file("stem.db");
    let broker = SqliteStore::open(&file).await?.broker();
    let good = Envelope::new("t", "q", Payload::new("json", b"1".to_vec()));
    {
        let conn = rusqlite::Connection::open(&file)?;
        let insert =
            "INSERT INTO stem_messages (id, queue, priority, state, ready_at, envelope) VALUES (?, 'q', 5, 0, 0, ?)";
        // Valid JSON, but stored as a BLOB; and bytes that are not UTF-8.
        let valid = Envelope::new("t", "q", Payload::new("json", b"2".to_vec()));
        conn.execute(insert, (valid.id.to_string(), serde_json::to_vec(&valid)?))?;
        conn.execute(insert, (b"\xff\xfe".to_vec(), b"\xff{".to_vec()))?;
    }
    broker.publish(good.clone()).await?;
    let request = request();
    let got = broker.receive(&request).await?;
    let ids: Vec<_> = got.iter().map(|d| d.envelope.id).collect();
    assert!(ids.contains(&good.id), "the good message still flows: {ids:?}");
    let dead = broker.list_dead_letters("q", 10, 0).await?.entries;
    assert!(
        !dead.is_empty() && dead.len() + got.len() == 3,
        "nothing is lost: {} dead, {} delivered",
        dead.len(),
        got.len()
    );
    assert!(dead.iter().any(|d| d.reason.contains("not UTF-8") && d.envelope.args.bytes() == b"\xff{"), "{dead:?}");
    Ok(())
}
