use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A worker's periodic sign of life, stored with a TTL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerHeartbeat {
    /// The worker's id.
    pub worker_id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The queues it consumes.
    pub queues: Vec<String>,
    /// Its concurrency.
    pub concurrency: usize,
    /// Tasks it holds right now (running or prefetched).
    pub inflight: usize,
    /// Tasks it finished since it started.
    pub processed: u64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When this heartbeat was sent.
    pub at: DateTime<Utc>,
}

impl WorkerHeartbeat {
    /// A heartbeat for `worker_id` at the current time.
    pub fn new(worker_id: impl Into<String>, queues: Vec<String>, concurrency: usize) -> Self {
        let now = Utc::now();
        Self {
            worker_id: worker_id.into(),
            host: hostname(),
            pid: std::process::id(),
            queues,
            concurrency,
            inflight: 0,
            processed: 0,
            started_at: now,
            at: now,
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
