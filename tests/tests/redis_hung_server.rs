//! A Redis that stops answering (a hung server, a half-open connection) in
//! the middle of a blocking read: the read gives up a few seconds after its
//! end instead of waiting forever, and the broker works again once the
//! server does.

use std::time::Duration;

use stem::Broker;
use stem::broker::ReceiveRequest;
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{RedisServer, TempDir, TestResult, until_ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_read_on_a_hung_server_gives_up() -> TestResult {
    let dir = TempDir::new("redis-hung");
    let Some(server) = RedisServer::start(&dir, 0, false, &[]) else { return Ok(()) };
    let url = format!("redis://127.0.0.1:{}/0", server.port());
    let store = RedisStore::connect_with(RedisOptions::new(&url).with_namespace("hung")).await?;
    let broker = store.broker();
    let request = ReceiveRequest {
        queues: vec!["q".into()],
        max: 1,
        lease: Duration::from_secs(30),
        wait: Duration::from_secs(3),
        consumer: "test".into(),
    };
    let receiving = tokio::spawn({
        let (broker, request) = (broker.clone(), request.clone());
        async move { broker.receive(&request).await }
    });
    // Freeze the server once the read waits in it.
    let watcher = redis::Client::open(url.as_str())?;
    let mut watch = watcher.get_multiplexed_async_connection().await?;
    until_ok("the blocking read", || {
        let mut watch = watch.clone();
        async move {
            let clients: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut watch).await.map_err(drop)?;
            if clients.contains("cmd=xread") { Ok(()) } else { Err(()) }
        }
    })
    .await;
    server.pause();
    let gave_up = tokio::time::timeout(Duration::from_secs(20), receiving).await;
    server.resume();
    let outcome = gave_up.expect("the read gave up instead of waiting forever")?;
    let error = outcome.expect_err("a hung server is an error").to_string();
    assert!(error.contains("is the server alive") || error.contains("unreachable"), "{error}");
    // The server is back: the broker answers again.
    let got = broker.receive(&ReceiveRequest { wait: Duration::from_millis(100), ..request }).await?;
    assert!(got.is_empty());
    let _ = redis::cmd("PING").query_async::<String>(&mut watch).await;
    store.delete_namespace().await?;
    Ok(())
}
