//! A message whose stored envelope no longer decodes goes to the dead letter
//! queue with its reason and its text, and the queue keeps flowing.

use std::time::Duration;
use stem::broker::{DeadLetters, QueueStats};

use stem::broker::ReceiveRequest;
use stem::codec::Payload;
use stem::{Broker, Envelope};
use stem_adapters::sqlite::SqliteStore;
use stem_tests::{TempDir, TestResult};

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
    let request = ReceiveRequest {
        queues: vec!["q".into()],
        max: 10,
        lease: Duration::from_secs(30),
        wait: Duration::from_secs(5),
        consumer: "test".into(),
    };
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
