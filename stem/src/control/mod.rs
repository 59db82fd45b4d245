//! The control plane: ask running workers what they do and tell them what
//! to do, over the broker's broadcast channel (every adapter has one).
//!
//! ```no_run
//! # async fn demo(stem: stem::Stem) -> stem::Result<()> {
//! let replies = stem.control().timeout(std::time::Duration::from_secs(3)).ping().await?;
//! for reply in &replies.replies {
//!     println!("{} answered", reply.worker);
//! }
//! println!("no answer from {:?}", replies.missing);
//! # Ok(()) }
//! ```
//!
//! A request goes to every worker, or to those named with
//! [`Control::to`]; replies are collected until every addressed worker has
//! answered or the timeout has passed, and the caller is told who did not
//! answer. "Every worker" means those with a live heartbeat in the result
//! backend. Commands: `ping`, `stats`, `inspect` (the deliveries held, and
//! the scheduled ones waiting in the broker for the worker's queues),
//! `shutdown` (warm, soft, hard), `pause` / `resume` a queue, `grow` /
//! `shrink` the pool, and `revoke`, which first writes the revokes to the
//! store (so that a worker that starts later honours them) and then tells
//! the running workers, which stop a revoked running task at once if asked
//! (`Terminate::Soft`: its context reports cancellation; `Terminate::Hard`:
//! its future is dropped) and record it as `revoked`.
//!
//! A worker that receives a message it cannot read logs it and goes on.

mod listener;
mod message;

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt as _;

pub use self::message::{Command, Reply};
use self::message::{REPLIES, REQUESTS, Request};
use crate::error::{Error, Result};
use crate::id::TaskId;
use crate::revoke::{Revoke, Terminate};
use crate::stem::Stem;
use crate::worker::ShutdownMode;

/// How long a request waits for replies unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// The replies to one request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Replies {
    /// One per worker that answered, in the order they came.
    pub replies: Vec<Reply>,
    /// The addressed workers that did not answer in time.
    pub missing: Vec<String>,
}

/// Control requests to the workers of a store (see the module docs).
#[derive(Debug, Clone)]
pub struct Control {
    stem: Stem,
    targets: Vec<String>,
    timeout: Duration,
}

impl Stem {
    /// The control plane of this Stem's workers.
    pub fn control(&self) -> Control {
        Control { stem: self.clone(), targets: Vec::new(), timeout: DEFAULT_TIMEOUT }
    }
}

impl Control {
    /// Addresses only `workers` (by id).
    #[must_use]
    pub fn to(mut self, workers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.targets = workers.into_iter().map(Into::into).collect();
        self
    }

    /// Waits for replies at most `timeout` (default 3 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Every addressed worker answers.
    pub async fn ping(&self) -> Result<Replies> {
        self.send(Command::Ping).await
    }

    /// Each worker's counts ([`WorkerStats`](crate::worker::WorkerStats) as JSON).
    pub async fn stats(&self) -> Result<Replies> {
        self.send(Command::Stats).await
    }

    /// Each worker's held deliveries and those due later on its queues
    /// (`{"active": [ActiveTask], "scheduled": [ScheduledTask]}`, see
    /// [`WorkerControl::scheduled`](crate::worker::WorkerControl::scheduled)).
    pub async fn inspect(&self) -> Result<Replies> {
        self.send(Command::Inspect).await
    }

    /// Shuts the workers down.
    pub async fn shutdown(&self, mode: ShutdownMode) -> Result<Replies> {
        self.send(Command::Shutdown { mode }).await
    }

    /// Stops delivery from `queue`.
    pub async fn pause(&self, queue: &str) -> Result<Replies> {
        self.send(Command::Pause { queue: queue.to_owned() }).await
    }

    /// Restarts delivery from `queue`.
    pub async fn resume(&self, queue: &str) -> Result<Replies> {
        self.send(Command::Resume { queue: queue.to_owned() }).await
    }

    /// Grows each worker's pool by `n` slots.
    pub async fn grow(&self, n: usize) -> Result<Replies> {
        self.send(Command::Grow { n }).await
    }

    /// Shrinks each worker's pool by `n` slots.
    pub async fn shrink(&self, n: usize) -> Result<Replies> {
        self.send(Command::Shrink { n }).await
    }

    /// Revokes `ids` for `keep` (how long the revokes hold): written to the
    /// store first, then told to the running workers, which stop a running
    /// one as `terminate` says. An id that is a workflow run's cancels the
    /// run ([`WorkflowHandle::cancel`](crate::WorkflowHandle::cancel)).
    pub async fn revoke(&self, ids: &[TaskId], terminate: Terminate, keep: Duration) -> Result<Replies> {
        for id in ids {
            if self.stem.workflows().get_run(*id).await?.is_some() {
                self.stem.workflow_handle::<serde_json::Value>(*id).cancel().await?;
            }
        }
        let expires = chrono::Utc::now() + chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::days(365));
        let revokes: Vec<Revoke> = ids.iter().map(|id| Revoke::new(*id, expires).terminate(terminate)).collect();
        self.stem.stores().revokes().put(&revokes).await?;
        self.send(Command::Revoke { revokes }).await
    }

    /// Sends `command` and collects the replies.
    pub async fn send(&self, command: Command) -> Result<Replies> {
        let channel = self.stem.broker().broadcast().ok_or(Error::Unsupported("broadcast (control commands)"))?;
        let expected: BTreeSet<String> = if self.targets.is_empty() {
            self.stem.backend().list_heartbeats().await?.into_iter().map(|b| b.worker_id).collect()
        } else {
            self.targets.iter().cloned().collect()
        };
        let id = TaskId::new().to_string();
        let request = Request { id: id.clone(), targets: self.targets.clone(), command };
        let bytes = serde_json::to_vec(&request).map_err(|e| crate::codec::codec_error("json", e))?;
        // Listening before asking, so that no reply comes before it.
        let mut replies_stream = channel.subscribe(REPLIES).await?;
        channel.broadcast(REQUESTS, bytes).await?;
        let mut replies = Vec::new();
        let mut answered = BTreeSet::new();
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if !expected.is_empty() && expected.is_subset(&answered) {
                break;
            }
            let next = tokio::time::timeout_at(deadline, replies_stream.next()).await;
            let Ok(Some(message)) = next else { break };
            let Ok(reply) = serde_json::from_slice::<Reply>(&message) else { continue };
            if reply.request == id && answered.insert(reply.worker.clone()) {
                replies.push(reply);
            }
        }
        let missing = expected.difference(&answered).cloned().collect();
        Ok(Replies { replies, missing })
    }
}
