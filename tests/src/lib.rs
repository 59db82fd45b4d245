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

/// A fresh directory for one test's files, removed when dropped.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates an empty directory named after `label` under the system's temp dir.
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!("stem-{label}-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }

    /// The path of `name` inside the directory.
    pub fn file(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
