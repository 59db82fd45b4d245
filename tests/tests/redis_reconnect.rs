//! A worker outlives its Redis: while the server is down a producer gets a clear
//! error and the worker keeps retrying; when the server is back (with its data,
//! from its append-only file) the worker resumes without a restart, and the work
//! it had acked before is still recorded.
//!
//! The test owns its Redis: a `redis-server` on a free port, in a temp dir.

use stem::prelude::*;
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{RedisServer, TempDir, TestResult, WAIT, until_ok};

#[stem::task]
async fn double(n: u64) -> Result<u64, TaskError> {
    Ok(n * 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_resumes_when_redis_comes_back() -> TestResult {
    let dir = TempDir::new("redis-reconnect");
    let persistent = ["--appendonly", "yes", "--appendfsync", "always"];
    let Some(server) = RedisServer::start(&dir, 0, false, &persistent) else { return Ok(()) };
    let url = format!("redis://127.0.0.1:{}", server.port());
    let store = RedisStore::connect_with(RedisOptions::new(url)).await?;
    let stem = Stem::new(store.stores());
    let worker = Worker::builder(&stem).task::<Double>().concurrency(4).handle_signals(false).build()?.spawn();

    let before = Double::enqueue(&stem, 1).await?;
    assert_eq!(before.wait_timeout(WAIT).await?, 2);

    let port = server.stop();
    let error = Double::enqueue(&stem, 2).await.expect_err("Redis is down");
    let message = error.to_string();
    assert!(message.contains("Redis is unreachable"), "the error names the store and the cause: {message}");
    eprintln!("enqueue while Redis was down: {message}");

    let server = RedisServer::start(&dir, port, false, &persistent).expect("the same server starts again");
    // The connection comes back on its own; the worker was never restarted.
    let after = until_ok("Redis to accept tasks again", || Double::enqueue(&stem, 21)).await;
    assert_eq!(after.wait_timeout(WAIT).await?, 42, "the worker resumed consuming");
    assert_eq!(before.wait_timeout(WAIT).await?, 2, "work acked before the outage is still recorded");

    worker.stop(ShutdownMode::Warm).await?;
    drop(server);
    Ok(())
}
