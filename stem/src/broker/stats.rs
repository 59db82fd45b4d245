//! [`QueueStats`]: how many messages a queue holds, which of them wait for
//! their time, and emptying it.

use async_trait::async_trait;
use serde::Serialize;

use crate::envelope::Envelope;
use crate::error::Result;

/// A queue's messages by where they are, as [`QueueStats::queues`] counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct QueueCounts {
    /// The queue.
    pub queue: String,
    /// Ready to run now (due delayed messages and ended leases included).
    pub ready: usize,
    /// Waiting for their time (`countdown`, `eta`, a retry's backoff).
    pub delayed: usize,
    /// Leased to a worker and not yet settled.
    pub leased: usize,
    /// In the queue's dead letter queue.
    pub dead: usize,
}

impl QueueCounts {
    /// The counts of `queue`.
    pub fn new(queue: impl Into<String>, ready: usize, delayed: usize, leased: usize, dead: usize) -> Self {
        Self { queue: queue.into(), ready, delayed, leased, dead }
    }
}

/// A capability: what operators ask of a queue's messages. Adapters that have
/// it implement it beside [`Broker`](super::Broker) and return it from
/// [`Broker::stats`](super::Broker::stats).
#[async_trait]
pub trait QueueStats: Send + Sync + 'static {
    /// Messages of `queue` ready to run now (delayed ones are not counted).
    async fn pending_count(&self, queue: &str) -> Result<usize>;

    /// Messages of `queue` leased to a consumer and not yet acked.
    async fn inflight_count(&self, queue: &str) -> Result<usize>;

    /// Removes every message of `queue` that is not leased (ready and
    /// delayed ones, and those whose lease ended); returns how many.
    async fn purge(&self, queue: &str) -> Result<usize>;

    /// Every queue that has held a message, by name, with its counts now.
    /// Quick however many messages are stored: it reads indexes or counters,
    /// never the messages themselves.
    async fn queues(&self) -> Result<Vec<QueueCounts>>;

    /// The delayed messages of `queue` (a `countdown`, an `eta`, a retry's
    /// backoff) that are not yet due, soonest first, at most `limit` of them;
    /// each envelope's `not_before` says when it is due. A message whose time
    /// has come is ready, not delayed, and is not listed.
    async fn delayed(&self, queue: &str, limit: usize) -> Result<Vec<Envelope>>;
}
