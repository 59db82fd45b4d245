//! Shared helpers for Stem's end-to-end tests. Tasks are defined in each test
//! file, never here, so that each test binary links only its own tasks.

use std::time::Duration;

use stem::worker::WorkerBuilder;
use stem::{Stem, Worker, WorkerHandle};

/// The longest any test waits for an outcome; a healthy run takes far less.
pub const WAIT: Duration = Duration::from_secs(10);

/// What a test returns.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// An in-memory Stem with a running worker configured by `configure`.
pub fn spawn_worker(configure: impl FnOnce(WorkerBuilder) -> WorkerBuilder) -> (Stem, WorkerHandle) {
    let stem = Stem::in_memory();
    let worker = configure(Worker::builder(&stem)).build().expect("worker configuration is valid").spawn();
    (stem, worker)
}

/// Waits for `future` for at most [`WAIT`], failing the test with `what` otherwise.
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
