//! A worker outlives its Redis: while the server is down a producer gets a clear
//! error and the worker keeps retrying; when the server is back (with its data,
//! from its append-only file) the worker resumes without a restart, and the work
//! it had acked before is still recorded.
//!
//! The test owns its Redis: a `redis-server` on a free port, in a temp dir.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use stem::prelude::*;
use stem_adapters::redis::{RedisOptions, RedisStore};
use stem_tests::{TempDir, TestResult, WAIT};

#[stem::task]
async fn double(n: u64) -> Result<u64, TaskError> {
    Ok(n * 2)
}

/// A `redis-server` of the test's own, killed when dropped.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    /// Starts a server on `port` (0: a free one) keeping its data in `dir`.
    fn start(dir: &TempDir, port: u16) -> Option<Self> {
        let port = if port == 0 { free_port() } else { port };
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "yes"])
            .args(["--appendfsync", "always", "--dir"])
            .arg(dir.file(""))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "redis-server cannot start under CI=true: {e}");
                eprintln!("skipped: redis-server cannot start ({e}); install Redis to run this test");
                return None;
            }
        };
        let server = Self { child, port };
        // Readiness of an outside process: try to connect until it accepts.
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not accept connections on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_resumes_when_redis_comes_back() -> TestResult {
    let dir = TempDir::new("redis-reconnect");
    let Some(server) = OwnRedis::start(&dir, 0) else { return Ok(()) };
    let store = RedisStore::connect_with(RedisOptions::new(server.url())).await?;
    let stem = Stem::with_locks(store.broker(), store.backend(), store.locks());
    let worker = Worker::builder(&stem).task::<Double>().concurrency(4).handle_signals(false).build()?.spawn();

    let before = Double::enqueue(&stem, 1).await?;
    assert_eq!(before.wait_timeout(WAIT).await?, 2);

    let port = server.stop();
    let error = Double::enqueue(&stem, 2).await.expect_err("Redis is down");
    let message = error.to_string();
    assert!(message.contains("Redis is unreachable"), "the error names the store and the cause: {message}");
    eprintln!("enqueue while Redis was down: {message}");

    let server = OwnRedis::start(&dir, port).expect("the same server starts again");
    // The connection comes back on its own; the worker was never restarted.
    let after = tokio::time::timeout(WAIT, async {
        loop {
            match Double::enqueue(&stem, 21).await {
                Ok(handle) => return handle,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await?;
    assert_eq!(after.wait_timeout(WAIT).await?, 42, "the worker resumed consuming");
    assert_eq!(before.wait_timeout(WAIT).await?, 2, "work acked before the outage is still recorded");

    worker.stop(ShutdownMode::Warm).await?;
    drop(server);
    Ok(())
}
